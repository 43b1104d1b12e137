"""The detection curves of the report, taken from the metric's own matching (never recomputed).

:func:`class_curves` reads the per-class precision / recall arrays of
:func:`lmnet.metrics.voc.voc_evaluate` (the arrays its AP was computed from) and the scores they are
ordered by; :func:`f1_curves` turns them into F1 against the score threshold.

F1 at a threshold ``t`` of a class keeps the class's detections scoring at least ``t``: they are a prefix
``k`` of the metric's score order, so precision and recall are the metric's ``precision[k - 1]`` and
``recall[k - 1]`` (F1 is 0 when ``k`` is 0). The *mean* F1 is the mean over the classes that have ground
truth; the best threshold is the one where it is highest (the highest such threshold on a tie), searched
over every score a detection has, which are the only places where F1 changes.
"""
import dataclasses

import numpy as np


@dataclasses.dataclass
class ClassCurve:
    """One class's precision / recall curve at IoU 0.5 (arrays in the metric's score order).

    Attributes:
        name: the class name.
        ap: its AP (``nan`` without ground truth).
        npos: its number of (not ignored) objects.
        precision: cumulative precision after each detection.
        recall: cumulative recall after each detection (``nan`` without ground truth).
        scores: the detections' scores, highest first.
    """

    name: str
    ap: float
    npos: int
    precision: np.ndarray
    recall: np.ndarray
    scores: np.ndarray

    @property
    def has_ground_truth(self):
        """The class has at least one object, so its recall and AP are defined."""
        return self.npos > 0

    def envelope(self):
        """``(recall, precision)`` of the precision envelope as the all-point AP integrates it.

        The envelope is the highest precision at this recall or beyond; starting at recall 0, the area
        under its steps (each value held back to the previous recall) is the AP.
        """
        if len(self.precision) == 0:
            return np.zeros(1), np.zeros(1)
        precision = np.maximum.accumulate(self.precision[::-1])[::-1]
        return np.concatenate([[0.0], self.recall]), np.concatenate([precision[:1], precision])

    def counts_at(self, threshold):
        """Number of this class's detections scoring at least ``threshold``."""
        return int(np.count_nonzero(self.scores >= threshold))

    def at(self, threshold):
        """``(precision, recall, f1)`` when only detections scoring at least ``threshold`` are kept."""
        return _prf(self, np.array([self.counts_at(threshold)]))[0]


def class_curves(voc_result, classes):
    """One :class:`ClassCurve` per class from a :func:`lmnet.metrics.voc.voc_evaluate` result."""
    return [ClassCurve(name, float(ap), int(npos), np.asarray(precision), np.asarray(recall), np.asarray(scores))
            for name, ap, npos, precision, recall, scores in zip(
                classes, voc_result["ap"], voc_result["npos"], voc_result["precision"], voc_result["recall"],
                voc_result["scores"])]


@dataclasses.dataclass
class F1Curves:
    """F1 against the score threshold.

    Attributes:
        thresholds: ascending candidate thresholds (every distinct detection score).
        per_class: ``{class name: F1 at each threshold}`` for the classes with ground truth.
        mean: the mean of ``per_class`` at each threshold.
        best_threshold: the threshold of the highest mean F1 (``None`` without detections).
        best_f1: that mean F1 (0 without detections).
    """

    thresholds: np.ndarray
    per_class: dict
    mean: np.ndarray
    best_threshold: float
    best_f1: float


def f1_curves(curves):
    """The :class:`F1Curves` of a list of :class:`ClassCurve` (see the module docstring)."""
    scored = [curve.scores for curve in curves if len(curve.scores)]
    thresholds = np.unique(np.concatenate(scored)) if scored else np.zeros(0)
    per_class = {}
    for curve in curves:
        if curve.has_ground_truth:
            kept = len(curve.scores) - np.searchsorted(curve.scores[::-1], thresholds, side="left")
            per_class[curve.name] = _prf(curve, kept)[:, 2]
    mean = np.mean(list(per_class.values()), axis=0) if per_class else np.zeros(len(thresholds))
    if len(thresholds) == 0:
        return F1Curves(thresholds, per_class, mean, None, 0.0)
    best = len(mean) - 1 - int(np.argmax(mean[::-1]))  # the highest threshold on a tie
    return F1Curves(thresholds, per_class, mean, float(thresholds[best]), float(mean[best]))


def _prf(curve, kept):
    """``[len(kept), 3]`` precision, recall and F1 after the first ``kept`` detections of ``curve``."""
    kept = np.asarray(kept, np.int64)
    result = np.zeros((len(kept), 3))
    some = kept > 0
    if not np.any(some):
        return result
    precision = curve.precision[kept[some] - 1]
    recall = curve.recall[kept[some] - 1]
    total = precision + recall
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(total > 0, 2 * precision * recall / np.where(total > 0, total, 1), 0.0)
    result[some] = np.stack([precision, recall, f1], axis=1)
    return result
