"""The dataset check's plots: one PNG per subset (:mod:`lmnet.dataset_check`).

Drawn with ``matplotlib.figure.Figure`` on the Agg canvas (no pyplot, no global state). A detection
subset gets six panels: image sizes, boxes per image, box width against height at the network input
(with the configured and fitted anchors for the training subset), the width and height distributions,
the aspect ratios and the class balance; a classification subset gets the image sizes and the class
balance.
"""
import numpy as np

from lmnet.reports.figures import new_figure, write_png

#: Most boxes drawn in the width/height scatter (an even choice of them); the histograms use every box.
MAX_SCATTER_POINTS = 20000


def write_subset_plot(path, report, input_size=None, anchor_report=None):
    """Draws one subset's panels and writes them to ``path`` as PNG.

    Args:
        path: the PNG file.
        report: the :class:`lmnet.dataset_check.SubsetReport`.
        input_size: ``(height, width)`` of the network input; box sizes are drawn there (else in pixels of
            their image).
        anchor_report: the :class:`lmnet.dataset_check.AnchorReport` to draw over the box sizes, or ``None``.
    """
    detection = report.is_detection and len(report.box_sizes) > 0
    figure = new_figure(*((15, 9) if detection else (11, 4.5)), layout=None)
    axes = figure.subplots(2, 3).ravel() if detection else figure.subplots(1, 2).ravel()
    # fixed margins: half the drawing time of a constrained layout
    figure.subplots_adjust(left=0.06, right=0.98, bottom=0.09 if detection else 0.14, top=0.91 if detection else 0.85,
                           wspace=0.25, hspace=0.3)
    figure.suptitle(f"{report.subset}: {report.checked} of {report.total} images"
                    + (f", {len(report.box_sizes)} boxes" if report.is_detection else ""))
    _image_sizes(axes[0], report.image_sizes)
    if detection:
        sizes = report.input_box_sizes(input_size) if input_size is not None else report.box_sizes
        unit = f"px at {input_size[0]}x{input_size[1]}" if input_size is not None else "px"
        _boxes_per_image(axes[1], report.boxes_per_image)
        _box_scatter(axes[2], sizes, unit, anchor_report)
        _size_histograms(axes[3], sizes, unit)
        _aspects(axes[4], sizes)
    _class_balance(axes[-1], report)
    write_png(figure, path)


def _image_sizes(axis, image_sizes):
    """Each distinct ``width x height`` as a dot whose area grows with its count."""
    axis.set_title("image sizes")
    axis.set_xlabel("width (px)")
    axis.set_ylabel("height (px)")
    if len(image_sizes) == 0:
        return
    distinct, counts = np.unique(image_sizes, axis=0, return_counts=True)
    axis.scatter(distinct[:, 1], distinct[:, 0], s=20 + 300 * counts / counts.max(), alpha=0.5)
    if len(distinct) <= 5:
        for (height, width), count in zip(distinct, counts):
            axis.annotate(f"{width}x{height}: {count}", (width, height), textcoords="offset points", xytext=(6, 6))
    axis.margins(0.2)


def _boxes_per_image(axis, counts):
    axis.set_title("boxes per image")
    axis.hist(counts, bins=np.arange(counts.max(initial=0) + 2) - 0.5, rwidth=0.85)
    axis.set_xlabel("boxes")
    axis.set_ylabel("images")


def _box_scatter(axis, sizes, unit, anchor_report):
    """Box width against height, and the anchors (in the same pixels) when given."""
    axis.set_title("box width and height")
    shown = sizes[np.unique(np.linspace(0, len(sizes) - 1, MAX_SCATTER_POINTS).astype(np.int64))]
    axis.scatter(shown[:, 0], shown[:, 1], s=4, alpha=0.25, linewidths=0, label="boxes")
    if anchor_report is not None:
        rows, columns = anchor_report.grid_size
        height, width = anchor_report.input_size
        cell = np.array([width / columns, height / rows])
        for name, measured, marker in (("configured anchors", anchor_report.current, "s"),
                                       ("fitted anchors", anchor_report.fitted, "X")):
            if measured is not None:
                points = measured.anchors * cell
                axis.scatter(points[:, 0], points[:, 1], s=90, marker=marker, edgecolors="black",
                             label=f"{name} (BPR {measured.bpr:.3f}, IoU {measured.mean_iou:.3f})")
        axis.legend(loc="upper left", fontsize="small")
    axis.set_xlabel(f"width ({unit})")
    axis.set_ylabel(f"height ({unit})")


def _size_histograms(axis, sizes, unit):
    axis.set_title("box width and height")
    bins = _bins(sizes.ravel())
    axis.hist(sizes[:, 0], bins=bins, histtype="step", linewidth=1.5, label="width")
    axis.hist(sizes[:, 1], bins=bins, histtype="step", linewidth=1.5, label="height")
    axis.set_xlabel(unit)
    axis.set_ylabel("boxes")
    axis.legend()


def _bins(values, count=40):
    """``count`` equal bins over ``values``; for whole numbers, bins of a whole width centred on them (no aliasing)."""
    low, high = float(values.min()), float(values.max())
    if not np.allclose(values, np.round(values)):
        return np.histogram_bin_edges(values, bins=count)
    step = max(1, int(np.ceil((high - low + 1) / count)))
    return np.arange(np.round(low), np.round(high) + step + 1, step) - 0.5


def _aspects(axis, sizes):
    """Width / height on a logarithmic axis (a square box is 1)."""
    axis.set_title("box aspect ratio (width / height)")
    positive = (sizes > 0).all(axis=1)
    ratios = sizes[positive, 0] / sizes[positive, 1]
    low, high = (min(ratios.min(), 0.5), max(ratios.max(), 2.0)) if len(ratios) else (0.5, 2.0)
    if len(ratios):
        axis.hist(ratios, bins=np.geomspace(low, high, 41), rwidth=0.9)
    axis.set_xscale("log")
    ticks = 2.0 ** np.arange(np.floor(np.log2(low)), np.ceil(np.log2(high)) + 1)
    axis.set_xticks(ticks, [f"{tick:g}" for tick in ticks])
    axis.minorticks_off()
    axis.set_xlabel("width / height")
    axis.set_ylabel("boxes")


def _class_balance(axis, report):
    """Objects (detection) and images per class as bars."""
    axis.set_title("class balance")
    positions = np.arange(len(report.classes))
    if report.is_detection:
        axis.bar(positions - 0.2, report.objects_per_class, width=0.4, label="objects")
        axis.bar(positions + 0.2, report.images_per_class, width=0.4, label="images")
        axis.set_ylim(top=1.2 * max(report.objects_per_class.max(initial=0), 1))  # room for the legend
        axis.legend(loc="upper right", ncols=2)
    else:
        axis.bar(positions, report.images_per_class, width=0.6)
        axis.set_ylabel("images")
    axis.set_xticks(positions, report.classes, rotation=45 if len(report.classes) > 6 else 0, ha="right"
                    if len(report.classes) > 6 else "center", fontsize="small" if len(report.classes) > 12 else None)
