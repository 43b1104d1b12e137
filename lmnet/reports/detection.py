"""The detection report: precision-recall and F1 curves, the confusion matrix and the worst validation images.

Every number comes from the evaluation's own :class:`lmnet.metrics.detection.DetectionMetrics`: the curves
are its VOC precision / recall arrays at IoU 0.5 (:mod:`lmnet.reports.curves`), and the confusion matrix and
per-image errors match its detections, at the threshold of the best mean F1, with the rule of
:mod:`lmnet.reports.matching`, whose diagonal is the metric's true positives.
"""
import numpy as np

from lmnet.reports.curves import class_curves, f1_curves
from lmnet.reports.figures import (DPI, class_colors, confusion_matrix_figure, curves_figure, enlarge,
                                   image_grid_figure, outside_legend)
from lmnet.reports.matching import detections_above, match_at_threshold
from lmnet.reports.page import REPORT_DATA, REPORT_HTML, Section, Table, format_number, write_report

#: The IoU of the curves and the matching (that of ``DetectionMetrics.voc_result``).
IOU_THRESHOLD = 0.5

PR_CURVES = "pr_curves.png"
F1_CURVES = "f1_curves.png"
CONFUSION_MATRIX = "confusion_matrix.png"
WORST_IMAGES = "worst_images.png"

#: Every file the detection report writes beside ``evaluate.json``.
REPORT_FILES = (PR_CURVES, F1_CURVES, CONFUSION_MATRIX, WORST_IMAGES, REPORT_DATA, REPORT_HTML)

#: How many validation images the grid shows.
GRID_IMAGES = 16

#: Longer side, in pixels, of each image of the grid before boxes are drawn on it.
GRID_IMAGE_SIDE = 320


def write_detection_report(output_dir, metrics, dataset, evaluation, extra_sections=()):
    """Writes the detection report into ``output_dir``.

    Args:
        output_dir: the evaluation's (claimed) output folder.
        metrics: the :class:`~lmnet.metrics.detection.DetectionMetrics` of the evaluation, after ``result()``.
        dataset: the validation dataset the metrics went through (its images are read for the grid).
        evaluation: the content of ``evaluate.json``.
        extra_sections: more :class:`~lmnet.reports.page.Section` objects for the page.

    Returns:
        The path of ``report.html``.
    """
    classes = list(metrics.classes)
    curves = class_curves(metrics.voc_result, classes)
    f1 = f1_curves(curves)
    matching = match_at_threshold(metrics.detections, metrics.annotations, len(classes), f1.best_threshold,
                                  IOU_THRESHOLD)
    worst = worst_images(matching.errors, GRID_IMAGES)
    sections = detection_sections(metrics, dataset, curves, f1, matching, worst)
    data = report_data(curves, f1, matching, worst, classes, metrics.voc_result["map"])
    return write_report(output_dir, evaluation, [per_class_table(curves, f1)], sections, data, notes(curves, f1),
                        extra_sections)


def detection_sections(metrics, dataset, curves, f1, matching, worst):
    """The report's four plots as :class:`~lmnet.reports.page.Section` objects, with their captions."""
    classes = list(metrics.classes)
    return [
        Section("Precision-recall curves", pr_figure(curves, metrics.voc_result["map"]),
                "Per class at IoU 0.5: the precision envelope (the highest precision at this recall or beyond) "
                "against recall; the area under each curve is the class's AP, as in the metrics.", PR_CURVES),
        Section("F1 against score threshold", f1_figure(f1),
                "F1 of each class and their mean when only detections scoring at least the threshold are kept; the "
                "dashed line marks the best mean F1. The horizontal axis spans the detections' scores (those below "
                "the post-processor's own score threshold never reach the metrics).", F1_CURVES),
        Section("Confusion matrix", confusion_matrix_figure(
                    matching.confusion, classes + ["background"],
                    f"Confusion matrix at IoU 0.5, {_threshold_text(f1.best_threshold, short=True)}",
                    "true class (last row: background)", "predicted class (last column: background)"),
                f"Detections {_threshold_text(f1.best_threshold)}. Rows: true class (last row: detections that "
                "match no object); columns: predicted class (last column: objects that no detection found); each "
                "row divided by its total. Detections are matched in score order, first to an object of their "
                "own class as the metric does, then to an object of another class.", CONFUSION_MATRIX),
        Section("Worst validation images", grid_figure(dataset, metrics, matching, worst, classes, f1.best_threshold),
                f"Green: ground truth; red: detections {_threshold_text(f1.best_threshold)}. Images ordered by "
                "their error, false positives + false negatives at that threshold (most first, then by index).",
                WORST_IMAGES),
    ]


def worst_images(errors, count):
    """Indices of the ``count`` images with the most errors (ties: lower index first)."""
    errors = np.asarray(errors)
    return [int(index) for index in np.lexsort((np.arange(len(errors)), -errors))[:count]]


def pr_figure(curves, mean_ap):
    """Each class's precision envelope against recall, its AP in the legend."""
    figure = curves_figure(len(curves))
    axes = figure.add_subplot()
    for curve, color in zip(curves, class_colors(len(curves))):
        if not curve.has_ground_truth:
            axes.plot([], [], " ", label=f"{curve.name}: no ground truth")
            continue
        recall, precision = curve.envelope()
        suffix = "" if len(curve.scores) else " (no detections)"
        axes.plot(recall, precision, drawstyle="steps-pre", color=color, linewidth=1.5,
                  label=f"{curve.name}: AP {curve.ap:.3f}{suffix}")
    axes.set(xlim=(0.0, 1.0), ylim=(0.0, 1.02), xlabel="recall", ylabel="precision",
             title=f"Precision-recall at IoU 0.5 (mAP {format_number(mean_ap, 3)})")
    axes.grid(alpha=0.3)
    outside_legend(axes, len(curves))
    return figure


def f1_figure(f1):
    """Per-class and mean F1 against the score threshold, the best threshold marked."""
    figure = curves_figure(len(f1.per_class) + 1, height=5.0)
    axes = figure.add_subplot()
    shown = _plotted_points(len(f1.thresholds))
    for (name, values), color in zip(f1.per_class.items(), class_colors(len(f1.per_class))):
        axes.plot(f1.thresholds[shown], values[shown], drawstyle="steps-pre", color=color, linewidth=1.0, alpha=0.8,
                  label=name)
    if f1.best_threshold is None:
        axes.text(0.5, 0.5, "no detections", ha="center", va="center", transform=axes.transAxes)
        axes.set_xlim(0.0, 1.0)
        title = "F1 against score threshold (no detections)"
    else:
        axes.plot(f1.thresholds[shown], f1.mean[shown], drawstyle="steps-pre", color="black", linewidth=2.5,
                  label="mean")
        axes.axvline(f1.best_threshold, color="black", linestyle="--", linewidth=1.0)
        title = f"F1 against score threshold: best mean F1 {f1.best_f1:.3f} at {f1.best_threshold:.3f}"
        axes.set_xlim(*_score_range(f1.thresholds))
    axes.set(ylim=(0.0, 1.02), xlabel="score threshold", ylabel="F1", title=title)
    axes.grid(alpha=0.3)
    outside_legend(axes, len(f1.per_class) + 1)
    return figure


def grid_figure(dataset, metrics, matching, indices, classes, threshold):
    """The images ``indices`` with their ground truth and the detections above ``threshold`` drawn."""
    from lmnet.boxes import scale_xywh
    from lmnet.visualize import GROUND_TRUTH_COLOR, PREDICTION_COLOR, draw_boxes
    images, titles = [], []
    for index in indices:
        image, factor = enlarge(dataset.image(index), GRID_IMAGE_SIDE)
        annotation = metrics.annotations[index]
        truth = np.concatenate([np.asarray(annotation.boxes, np.float64).reshape(-1, 4),
                                np.asarray(annotation.class_ids, np.float64).reshape(-1, 1)], axis=1)
        shown = detections_above(metrics.detections[index], threshold)
        image = draw_boxes(image, scale_xywh(truth, factor, factor), classes, GROUND_TRUTH_COLOR)
        images.append(draw_boxes(image, scale_xywh(shown, factor, factor), classes, PREDICTION_COLOR,
                                 with_scores=True))
        titles.append(f"#{index}: {matching.false_positives[index]} FP, {matching.false_negatives[index]} FN")
    return image_grid_figure(images, titles,
                             f"Validation images with the most errors ({_threshold_text(threshold, short=True)})",
                             cell_inches=GRID_IMAGE_SIDE / DPI + 0.3)


def per_class_table(curves, f1):
    """AP, objects, detections and precision / recall / F1 at the best threshold, per class."""
    rows = []
    for curve in curves:
        precision, recall, score = curve.at(f1.best_threshold) if f1.best_threshold is not None else (0, 0, 0)
        defined = curve.has_ground_truth
        rows.append([curve.name, format_number(curve.ap) if defined else "n/a (no ground truth)", curve.npos,
                     len(curve.scores), format_number(precision), format_number(recall) if defined else "n/a",
                     format_number(score) if defined else "n/a"])
    return Table("Per class", ["class", "AP@0.5", "objects", "detections", "precision", "recall", "F1"], rows,
                 f"Precision, recall and F1 of the detections {_threshold_text(f1.best_threshold)}.")


def notes(curves, f1):
    """Sentences about what the report cannot show (classes without ground truth, no detections)."""
    lines = [f"{curve.name}: no ground truth in the validation subset, so its AP and recall are undefined; it is "
             "left out of the mAP and its detections count as false positives." for curve in curves
             if not curve.has_ground_truth]
    if f1.best_threshold is None:
        lines.append("The network made no detection: every curve is empty and every object is missed.")
    return lines


def report_data(curves, f1, matching, worst, classes, mean_ap):
    """The plotted data as JSON-ready values (``None`` for undefined numbers)."""
    return {
        "task": "detection", "iou_threshold": IOU_THRESHOLD, "classes": classes, "mAP@0.5": _number(mean_ap),
        "curves": [{"class": curve.name, "ap": _number(curve.ap), "objects": curve.npos,
                    "detections": len(curve.scores), "precision": _numbers(curve.precision),
                    "recall": _numbers(curve.recall), "scores": _numbers(curve.scores)} for curve in curves],
        "f1": {"best_threshold": f1.best_threshold, "best_mean_f1": f1.best_f1,
               "at_best_threshold": {curve.name: dict(zip(("precision", "recall", "f1"), _numbers(
                   curve.at(f1.best_threshold)))) for curve in curves if f1.best_threshold is not None}},
        "confusion_matrix": {"score_threshold": f1.best_threshold, "labels": classes + ["background"],
                             "rows": "true class", "columns": "predicted class",
                             "counts": matching.confusion.tolist()},
        "worst_images": [{"index": index, "false_positives": int(matching.false_positives[index]),
                          "false_negatives": int(matching.false_negatives[index])} for index in worst],
    }


def _plotted_points(count, limit=5000):
    """Indices of at most about ``limit`` of ``count`` thresholds, evenly spread, first and last included (a plot
    cannot show more; the best threshold is found on all of them)."""
    if count <= limit:
        return np.arange(count)
    return np.unique(np.linspace(0, count - 1, limit).round().astype(np.int64))


def _score_range(thresholds):
    """The horizontal range of the F1 plot: the detections' scores, a little wider, inside [0, 1]."""
    low, high = float(thresholds[0]), float(thresholds[-1])
    margin = max(0.03 * (high - low), 0.001)
    return max(0.0, low - margin), min(1.0, high + margin)


def _threshold_text(threshold, short=False):
    if threshold is None:
        return "all detections" if short else "(none was made)"
    return f"score ≥ {threshold:.3f}" if short else f"scoring at least {threshold:.3f} (the best mean F1)"


def _number(value):
    value = float(value)
    return None if np.isnan(value) else value


def _numbers(values):
    return [_number(value) for value in np.asarray(values, np.float64).reshape(-1)]
