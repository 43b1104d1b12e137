"""The classification report: the confusion matrix, a per-class table and a grid of misclassified images.

Every number comes from the evaluation's own :class:`lmnet.metrics.classification.ClassificationMetrics`:
the label and the top-1 class (the one its accuracy counts) of each validation sample.
"""
import numpy as np

from lmnet.reports.figures import confusion_matrix_figure, image_grid_figure, note_figure
from lmnet.reports.page import REPORT_DATA, REPORT_HTML, Section, Table, format_number, write_report

CONFUSION_MATRIX = "confusion_matrix.png"
MISCLASSIFIED = "misclassified.png"

#: Every file the classification report writes beside ``evaluate.json``.
REPORT_FILES = (CONFUSION_MATRIX, MISCLASSIFIED, REPORT_DATA, REPORT_HTML)

#: How many misclassified images the grid shows.
GRID_IMAGES = 16


def confusion_counts(labels, predictions, num_classes):
    """``int64 [num_classes, num_classes]``: entry ``[t, p]`` counts the samples of label ``t`` predicted ``p``."""
    counts = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(counts, (np.asarray(labels, np.int64), np.asarray(predictions, np.int64)), 1)
    return counts


def write_classification_report(output_dir, metrics, dataset, classes, evaluation, extra_sections=()):
    """Writes the classification report into ``output_dir``.

    Args:
        output_dir: the evaluation's (claimed) output folder.
        metrics: the :class:`~lmnet.metrics.classification.ClassificationMetrics` of the evaluation.
        dataset: the validation dataset the metrics went through, in the same order (its images are read
            for the grid).
        classes: the class names.
        evaluation: the content of ``evaluate.json``.
        extra_sections: more :class:`~lmnet.reports.page.Section` objects for the page.

    Returns:
        The path of ``report.html``.
    """
    classes = list(classes)
    labels, predictions = metrics.labels, metrics.predictions
    counts = confusion_counts(labels, predictions, len(classes))
    wrong = [int(index) for index in np.flatnonzero(labels != predictions)[:GRID_IMAGES]]
    sections = [
        Section("Confusion matrix", confusion_matrix_figure(counts, classes, "Confusion matrix (top-1)"),
                "Rows: true class; columns: predicted (top-1) class; each row divided by its total.",
                CONFUSION_MATRIX),
        Section("Misclassified images", misclassified_figure(dataset, wrong, labels, predictions, classes),
                f"The first {GRID_IMAGES} misclassified validation images in dataset order, titled true class → "
                "predicted class.", MISCLASSIFIED),
    ]
    data = {"task": "classification", "classes": classes,
            "confusion_matrix": {"rows": "true class", "columns": "predicted class", "counts": counts.tolist()},
            "misclassified_images": [{"index": index, "label": int(labels[index]),
                                      "prediction": int(predictions[index])} for index in wrong]}
    return write_report(output_dir, evaluation, [per_class_table(counts, classes)], sections, data,
                        extra_sections=extra_sections)


def misclassified_figure(dataset, indices, labels, predictions, classes):
    """The images ``indices``, each titled with its true and predicted class."""
    if not indices:
        return note_figure("Every validation image is classified correctly.", "Misclassified images")
    images = [dataset.image(index) for index in indices]
    titles = [f"#{index}: {classes[labels[index]]} → {classes[predictions[index]]}" for index in indices]
    return image_grid_figure(images, titles, "Misclassified validation images", cell_inches=2.2)


def per_class_table(counts, classes):
    """Samples, correct, accuracy (recall) and precision per class, with the class each is most mistaken for."""
    rows = []
    for index, name in enumerate(classes):
        samples, correct, predicted = counts[index].sum(), counts[index, index], counts[:, index].sum()
        others = np.where(np.arange(len(classes)) == index, -1, counts[index])
        confused = classes[int(np.argmax(others))] if others.max(initial=0) > 0 else "-"
        rows.append([name, int(samples), int(correct), format_number(correct / samples if samples else None),
                     format_number(correct / predicted if predicted else None), confused])
    return Table("Per class", ["class", "samples", "correct", "accuracy", "precision", "most often predicted as"],
                 rows, "Accuracy: the fraction of the class's samples predicted right (its recall).")
