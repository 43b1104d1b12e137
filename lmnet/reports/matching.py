"""Matching detections to ground truth at one score threshold: the detection confusion matrix and per-image errors.

The rule, image by image, for the detections scoring at least ``score_threshold``:

1. **Same class, as the VOC metric.** Detections are taken in score order (highest first, ties in row
   order). Each one takes the object of its own class with the highest IoU (the first on a tie); it is a
   true positive when that IoU is above ``iou_threshold`` (strictly, like the metric), the object is not
   ignored (difficult / crowd) and no earlier detection took it. A detection whose best object is
   ignored counts nowhere, as in the metric. So the diagonal of the matrix is exactly the metric's count of
   true positives at this threshold (:mod:`lmnet.metrics.voc`, rules 1-2).
2. **Another class.** Each detection left over, again in score order, takes the not yet taken, not
   ignored object *of another class* with the highest IoU above ``iou_threshold``: a confusion of its
   class with that object's.
3. **Background.** A detection still left over is a false positive of its class against the background;
   an object that nothing took is a missed object (the background "predicted" for it).

The matrix has rows for the true classes and a last row for the background (false positives), columns for
the predicted classes and a last column for the background (missed objects); the background-background
cell is always 0. An image's error is its number of false positives (every detection above the threshold
that is not a true positive, confusions included) plus its number of false negatives (every not ignored
object that no detection matched on its own class).
"""
import dataclasses

import numpy as np

from lmnet.boxes import iou_xywh


@dataclasses.dataclass
class ThresholdMatching:
    """The outcome of :func:`match_at_threshold`.

    Attributes:
        confusion: ``int64 [C + 1, C + 1]`` counts; rows true class (last: background), columns predicted
            class (last: background).
        false_positives: ``int64 [images]`` detections above the threshold that are not true positives.
        false_negatives: ``int64 [images]`` objects (not ignored) that no detection of their class matched.
    """

    confusion: np.ndarray
    false_positives: np.ndarray
    false_negatives: np.ndarray

    @property
    def errors(self):
        """``int64 [images]``: false positives + false negatives of each image."""
        return self.false_positives + self.false_negatives


def match_at_threshold(detections, annotations, num_classes, score_threshold, iou_threshold=0.5):
    """Matches each image's detections to its ground truth with the rules of the module docstring.

    Args:
        detections: one ``[N_i, 6]`` array ``(x, y, w, h, class_id, score)`` per image; ``class_id == -1``
            rows are padding.
        annotations: one :class:`~lmnet.datasets.detection_base.Annotation` per image.
        num_classes: number of classes.
        score_threshold: detections scoring at least this take part (``None``: all of them).
        iou_threshold: a match needs an IoU above this.

    Returns:
        A :class:`ThresholdMatching`.
    """
    background = num_classes
    confusion = np.zeros((num_classes + 1, num_classes + 1), np.int64)
    false_positives = np.zeros(len(annotations), np.int64)
    false_negatives = np.zeros(len(annotations), np.int64)
    for image, (rows, annotation) in enumerate(zip(detections, annotations)):
        rows = detections_above(rows, score_threshold)
        gt_classes = np.asarray(annotation.class_ids, np.int64).reshape(-1)
        ignored = np.asarray(annotation.ignore, bool).reshape(-1)
        iou = iou_xywh(rows[:, :4], np.asarray(annotation.boxes, np.float64).reshape(-1, 4))
        predicted = rows[:, 4].astype(np.int64)
        taken, outcome, true_positive = _match_image(iou, predicted, gt_classes, ignored, iou_threshold)
        for detection, target in enumerate(outcome):
            if target >= 0:
                confusion[gt_classes[target], predicted[detection]] += 1
            elif target == _UNMATCHED:
                confusion[background, predicted[detection]] += 1
        missed = ~taken & ~ignored
        np.add.at(confusion, (gt_classes[missed], background), 1)
        false_positives[image] = np.count_nonzero((outcome != _IGNORED) & ~true_positive)
        false_negatives[image] = np.count_nonzero(~ignored) - np.count_nonzero(true_positive)
    return ThresholdMatching(confusion, false_positives, false_negatives)


_UNMATCHED = -1
_IGNORED = -2


def detections_above(rows, score_threshold):
    """The ``[N, 6]`` detection rows scoring at least ``score_threshold`` (all for ``None``), padding dropped,
    sorted by score, highest first (ties keep their order)."""
    rows = np.asarray(rows, np.float64).reshape(-1, 6)
    keep = np.rint(rows[:, 4]) != -1
    if score_threshold is not None:
        keep &= rows[:, 5] >= score_threshold
    rows = rows[keep]
    return rows[np.argsort(-rows[:, 5], kind="stable")]


def _match_image(iou, predicted, gt_classes, ignored, iou_threshold):
    """``(taken objects, outcome per detection, true-positive detections)``; an outcome is the index of the
    object taken, ``_UNMATCHED`` or ``_IGNORED``."""
    taken = np.zeros(len(gt_classes), bool)
    outcome = np.full(len(predicted), _UNMATCHED, np.int64)
    for detection, class_id in enumerate(predicted):  # 1. same class, exactly the VOC rule
        same = np.flatnonzero(gt_classes == class_id)
        if len(same) == 0:
            continue
        best = same[np.argmax(iou[detection, same])]
        if iou[detection, best] <= iou_threshold:
            continue
        if ignored[best]:
            outcome[detection] = _IGNORED
        elif not taken[best]:
            taken[best] = True
            outcome[detection] = best
    true_positive = outcome >= 0
    for detection in np.flatnonzero(outcome == _UNMATCHED):  # 2. another class
        free = np.flatnonzero(~taken & ~ignored & (gt_classes != predicted[detection]))
        if len(free) == 0:
            continue
        best = free[np.argmax(iou[detection, free])]
        if iou[detection, best] > iou_threshold:
            taken[best] = True
            outcome[detection] = best
    return taken, outcome, true_positive
