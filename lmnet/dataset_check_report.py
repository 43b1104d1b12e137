"""The dataset check's report as text: per subset a table of percentiles, the class balance and the problems,
then the anchors (:mod:`lmnet.dataset_check`)."""
import numpy as np

#: Columns of the percentile table: ``(heading, percentile)``; ``None`` for the mean.
PERCENTILES = (("min", 0), ("5%", 5), ("25%", 25), ("50%", 50), ("75%", 75), ("95%", 95), ("max", 100),
               ("mean", None))
#: Problems printed per kind (``problems.txt`` lists them all).
EXAMPLES_PER_KIND = 5


def distribution_rows(report, input_size=None):
    """``[(name, values)]``: the distributions the percentile table shows for one :class:`SubsetReport`."""
    rows = [("image height (px)", report.image_sizes[:, 0]), ("image width (px)", report.image_sizes[:, 1])]
    if not report.is_detection:
        return rows
    sizes = report.box_sizes
    rows += [("boxes per image", report.boxes_per_image), ("box width (px)", sizes[:, 0]),
             ("box height (px)", sizes[:, 1])]
    if input_size is not None and not (report.boxes.image_sizes == input_size).all():
        scaled = report.input_box_sizes(input_size)
        rows += [(f"box width at {input_size[0]}x{input_size[1]}", scaled[:, 0]),
                 (f"box height at {input_size[0]}x{input_size[1]}", scaled[:, 1])]
    positive = (sizes > 0).all(axis=1)
    rows.append(("box aspect w/h", sizes[positive, 0] / sizes[positive, 1]))
    return rows


def percentile_table(rows):
    """A fixed-width table: one line per ``(name, values)`` with the count and :data:`PERCENTILES`."""
    width = max([len(name) for name, _ in rows] + [12])
    lines = [f"{'':<{width}}  {'count':>7}" + "".join(f"{heading:>9}" for heading, _ in PERCENTILES)]
    for name, values in rows:
        values = np.asarray(values, np.float64)
        values = values[np.isfinite(values)]
        if len(values) == 0:
            lines.append(f"{name:<{width}}  {0:>7}")
            continue
        cells = [np.mean(values) if q is None else np.percentile(values, q) for _, q in PERCENTILES]
        lines.append(f"{name:<{width}}  {len(values):>7}" + "".join(f"{_number(cell):>9}" for cell in cells))
    return lines


def _number(value):
    """At most 4 significant digits, without exponent below 1e6."""
    return f"{value:.4g}" if abs(value) < 1e6 else f"{value:.3e}"


def class_table(report):
    """Objects and images per class (images only for classification)."""
    width = max([len(name) for name in report.classes] + [5])
    head = f"{'class':<{width}}  " + (f"{'objects':>8}  " if report.is_detection else "") + f"{'images':>8}"
    lines = [head]
    for index, name in enumerate(report.classes):
        objects = f"{report.objects_per_class[index]:>8}  " if report.is_detection else ""
        lines.append(f"{name:<{width}}  {objects}{report.images_per_class[index]:>8}")
    return lines


def problem_lines(report, examples=EXAMPLES_PER_KIND):
    """Per kind of problem: the count, then the first ``examples`` messages."""
    grouped = report.problems_by_kind()
    if not grouped:
        return ["problems: none found"]
    lines = [f"problems: {len(report.problems)}"]
    for kind, problems in grouped.items():
        lines.append(f"  {kind}: {len(problems)}")
        lines += [f"    {problem.message}" for problem in problems[:examples]]
        if len(problems) > examples:
            lines.append(f"    … {len(problems) - examples} more (see problems.txt)")
    return lines


def subset_lines(report, input_size=None):
    """The whole text of one subset."""
    sampled = f" (checked {report.checked}, spread evenly)" if report.checked < report.total else ""
    lines = [f"== {report.subset}: {report.total} images{sampled}"]
    if report.is_detection:
        lines[0] += f", {len(report.box_sizes)} boxes"
    if report.checked:
        lines += [""] + percentile_table(distribution_rows(report, input_size)) + [""] + class_table(report)
    return lines + [""] + problem_lines(report)


def anchor_lines(anchor_report):
    """The anchors section: units, measures of the configured and the fitted anchors, the config line."""
    rows, columns = anchor_report.grid_size
    height, width = anchor_report.input_size
    fitted, current = anchor_report.fitted, anchor_report.current
    lines = [f"== anchors (grid cells of {height // rows}x{width // columns} px: a {rows}x{columns} grid at "
             f"{height}x{width}), {fitted.num_boxes} training boxes",
             f"best-possible recall (BPR): fraction of boxes whose best anchor has shape IoU >= "
             f"{fitted.iou_threshold:g}"]
    for name, measured in (("configured", current), ("fitted", fitted)):
        if measured is not None:
            pairs = ", ".join(f"[{w:.3g}, {h:.3g}]" for w, h in measured.anchors)
            lines.append(f"{name:>10}: BPR {measured.bpr:.4f}, mean best IoU {measured.mean_iou:.4f}  ({pairs})")
    return lines + ["paste into the config:", anchor_report.line]


def problems_file_lines(reports):
    """Every problem of every subset, one per line: ``<subset>\\t<kind>\\t<message>``."""
    return [f"{report.subset}\t{problem.kind}\t{problem.message}" for report in reports for problem in report.problems]
