"""YOLO anchors: fitting them to a dataset's boxes and measuring how well a set of anchors matches the boxes.

Pure NumPy. Boxes and anchors are compared by **shape only**: both are ``(w, h)`` pairs centred on the
same point, and their overlap is the *shape IoU* ``min(w1, w2)·min(h1, h2) / (w1·h1 + w2·h2 − that)``,
the IoU a YOLOv2 loss uses to pick the anchor responsible for a ground truth. It is computed by
:func:`lmnet.boxes.iou_xywh` on boxes placed at the origin (boxes sharing a corner overlap as much as
boxes sharing a centre).

Units: YOLO anchors (``NETWORK.ANCHORS``) are ``[w, h]`` in **grid cells** of the network output: a box
``w`` pixels wide at the network input (``IMAGE_SIZE``) of ``W`` pixels on a grid ``gw`` cells wide is
``w · gw / W`` cells wide (:mod:`lmnet.yolo_output` decodes ``w = aw · exp(tw) / gw · W``).
:func:`resized_sizes` converts boxes of any image into those units.

Two measures of a set of anchors against boxes, both over every box:

* **mean best IoU**: the mean over boxes of the shape IoU of the box with its best-matching anchor;
* **best-possible recall at IoU t** (BPR): the fraction of boxes whose best-matching anchor has a shape
  IoU of at least ``t``. An anchor placed on the box's centre with no size correction at all overlaps the
  box by exactly that shape IoU, so the BPR is the recall at IoU ``t`` of a detector that finds every
  centre and only outputs its anchors. The default ``t`` is :data:`BPR_IOU` = 0.5, the IoU of VOC's
  mAP@0.5.

:func:`fit_anchors` finds ``k`` anchors by k-means with the distance ``1 − shape IoU`` (YOLOv2's
dimension clusters): k-means++ seeding, Lloyd iterations whose centres are the mean ``(w, h)`` of their
boxes, several restarts, the restart with the highest mean best IoU kept. It is deterministic for a
given seed.
"""
import dataclasses

import numpy as np

from lmnet.boxes import iou_xywh
from lmnet.errors import DatasetError

#: The shape IoU a box's best anchor must reach to count in the best-possible recall.
BPR_IOU = 0.5
#: k-means restarts (each seeded differently from the one seed).
RESTARTS = 10
#: Lloyd iterations at most per restart (it stops earlier when no box changes cluster).
MAX_ITERATIONS = 300
#: At most this many boxes (a seeded random choice) are clustered; the measures use every box.
FIT_MAX_BOXES = 20000


def shape_iou(sizes, anchors):
    """Pairwise shape IoU of boxes and anchors, both given as ``(w, h)`` centred on one point.

    Args:
        sizes: ``[N, 2]`` box widths and heights.
        anchors: ``[A, 2]`` anchor widths and heights, in the same units.

    Returns:
        ``float64 [N, A]``.
    """
    return iou_xywh(_at_origin(sizes), _at_origin(anchors))


def _at_origin(sizes):
    """``[N, 2]`` sizes as ``[N, 4]`` boxes ``(0, 0, w, h)``."""
    sizes = np.asarray(sizes, np.float64).reshape(-1, 2)
    return np.concatenate([np.zeros_like(sizes), sizes], axis=1)


def best_ious(sizes, anchors):
    """``[N]``: each box's shape IoU with its best-matching anchor."""
    return shape_iou(sizes, anchors).max(axis=1)


def best_possible_recall(sizes, anchors, iou_threshold=BPR_IOU):
    """The fraction of boxes whose best-matching anchor has a shape IoU of at least ``iou_threshold``.

    Args:
        sizes: ``[N, 2]`` box ``(w, h)``, ``N >= 1``.
        anchors: ``[A, 2]`` anchor ``(w, h)`` in the same units.
        iou_threshold: the IoU to reach (default :data:`BPR_IOU`).

    Returns:
        A float in ``[0, 1]``.
    """
    return float(np.mean(best_ious(sizes, anchors) >= iou_threshold))


def mean_best_iou(sizes, anchors):
    """The mean over boxes of the shape IoU with their best-matching anchor."""
    return float(np.mean(best_ious(sizes, anchors)))


@dataclasses.dataclass(frozen=True)
class AnchorMatch:
    """How well a set of anchors matches a set of boxes.

    Attributes:
        anchors: ``[A, 2]`` anchors ``(w, h)``.
        bpr: best-possible recall at ``iou_threshold``.
        mean_iou: mean best shape IoU.
        iou_threshold: the IoU of the BPR.
        num_boxes: boxes measured.
    """

    anchors: np.ndarray
    bpr: float
    mean_iou: float
    iou_threshold: float
    num_boxes: int


def match(sizes, anchors, iou_threshold=BPR_IOU):
    """The :class:`AnchorMatch` of ``anchors`` against the box ``sizes``."""
    ious = best_ious(sizes, anchors)
    return AnchorMatch(anchors=np.asarray(anchors, np.float64).reshape(-1, 2),
                       bpr=float(np.mean(ious >= iou_threshold)), mean_iou=float(np.mean(ious)),
                       iou_threshold=float(iou_threshold), num_boxes=len(ious))


def sort_by_area(anchors):
    """``[A, 2]`` anchors sorted by increasing ``w · h`` (then by ``w``)."""
    anchors = np.asarray(anchors, np.float64).reshape(-1, 2)
    return anchors[np.lexsort((anchors[:, 0], anchors[:, 0] * anchors[:, 1]))]


def resized_sizes(sizes, image_sizes, size):
    """Box ``(w, h)`` once each box's image is resized to ``size`` without keeping its aspect ratio.

    That is how :class:`lmnet.pre_processor.ResizeWithGtBoxes` brings a box to the network input
    (``size = IMAGE_SIZE``, in pixels); with ``size`` the output grid ``(rows, columns)`` the result is in
    grid cells, the unit of ``NETWORK.ANCHORS``: a box ``w`` pixels wide in an image ``W`` pixels wide is
    ``w · columns / W`` cells wide.

    Args:
        sizes: ``[N, 2]`` box ``(w, h)`` in pixels of their image.
        image_sizes: ``[N, 2]`` ``(height, width)`` of each box's image (or one pair for all).
        size: ``(height, width)`` of the resized image.

    Returns:
        ``float64 [N, 2]``.
    """
    sizes = np.asarray(sizes, np.float64).reshape(-1, 2)
    image_sizes = np.broadcast_to(np.asarray(image_sizes, np.float64).reshape(-1, 2), (len(sizes), 2))
    return sizes * np.array([size[1], size[0]], np.float64) / image_sizes[:, ::-1]


def fit_anchors(sizes, k, seed=0, restarts=RESTARTS, max_iterations=MAX_ITERATIONS, max_boxes=FIT_MAX_BOXES):
    """``k`` anchors fitted to box sizes by k-means on the distance ``1 − shape IoU``.

    Each restart seeds its centres by k-means++ (the first a random box, each next one a box drawn with
    probability proportional to its squared distance to the nearest centre so far), then alternates
    assigning every box to the centre of highest shape IoU and moving every centre to the mean ``(w, h)``
    of its boxes, until no box changes centre (or ``max_iterations``). A centre left without boxes moves
    to the box that matches its best centre worst. The restart with the highest mean best IoU wins.

    Args:
        sizes: ``[N, 2]`` positive, finite box ``(w, h)``.
        k: number of anchors.
        seed: seed of the k-means++ choices and of the box sample.
        restarts: number of k-means runs.
        max_iterations: Lloyd iterations at most per run.
        max_boxes: cluster a seeded random sample of at most this many boxes.

    Returns:
        ``float64 [k, 2]`` anchors sorted by area (:func:`sort_by_area`).

    Raises:
        DatasetError: fewer than ``k`` distinct box sizes (or no box, or a size that is not positive and finite).
    """
    sizes = np.asarray(sizes, np.float64).reshape(-1, 2)
    if not np.all(np.isfinite(sizes)) or np.any(sizes <= 0):
        raise DatasetError("anchors can only be fitted to boxes of positive, finite width and height")
    distinct = len(np.unique(sizes, axis=0))
    if int(k) < 1 or distinct < int(k):
        raise DatasetError(f"cannot fit {k} anchors to {distinct} distinct box sizes; fit at most {distinct}")
    rng = np.random.default_rng(seed)
    if len(sizes) > max_boxes:
        sizes = sizes[np.sort(rng.choice(len(sizes), max_boxes, replace=False))]
    best, best_score = None, -1.0
    for _ in range(max(int(restarts), 1)):
        centres = _lloyd(sizes, _kmeans_plus_plus(sizes, int(k), rng), max_iterations)
        score = mean_best_iou(sizes, centres)
        if score > best_score:
            best, best_score = centres, score
    return sort_by_area(best)


def _kmeans_plus_plus(sizes, k, rng):
    """``k`` initial centres chosen among ``sizes`` by k-means++ with the distance ``1 − shape IoU``."""
    centres = [sizes[rng.integers(len(sizes))]]
    nearest = 1.0 - shape_iou(sizes, centres[0][None])[:, 0]
    for _ in range(1, k):
        weights = np.square(nearest)
        total = weights.sum()
        if total <= 0:  # every box equals a centre: take a size not chosen yet
            chosen = next(size for size in np.unique(sizes, axis=0) if not any(np.all(size == c) for c in centres))
        else:
            chosen = sizes[rng.choice(len(sizes), p=weights / total)]
        centres.append(chosen)
        nearest = np.minimum(nearest, 1.0 - shape_iou(sizes, chosen[None])[:, 0])
    return np.array(centres)


def _lloyd(sizes, centres, max_iterations):
    """Lloyd iterations from ``centres``; returns the final centres."""
    assignment = None
    for _ in range(max_iterations):
        ious = shape_iou(sizes, centres)
        new_assignment = ious.argmax(axis=1)
        if assignment is not None and np.array_equal(new_assignment, assignment):
            break
        assignment = new_assignment
        centres = _update_centres(sizes, assignment, ious.max(axis=1), centres)
    return centres


def _update_centres(sizes, assignment, best, centres):
    """The mean size of each cluster; an empty cluster takes the worst-matched box (which then leaves its own)."""
    centres = centres.copy()
    counts = np.bincount(assignment, minlength=len(centres))
    for index in range(len(centres)):
        members = assignment == index
        if counts[index]:
            centres[index] = sizes[members].mean(axis=0)
        else:
            worst = int(best.argmin())
            centres[index] = sizes[worst]
            best[worst] = np.inf
    return centres


def anchors_line(anchors, decimals=4):
    """The config line that sets these anchors, sorted by area: ``NETWORK.ANCHORS = [[w, h], ...]``.

    The list is in the config's format (``[width, height]`` pairs in grid cells) and reads back as Python.
    """
    pairs = ", ".join(f"[{_number(w, decimals)}, {_number(h, decimals)}]" for w, h in sort_by_area(anchors))
    return f"NETWORK.ANCHORS = [{pairs}]"


def _number(value, decimals):
    """``value`` rounded to ``decimals`` places, without trailing zeros (``1.5``, ``2.0``)."""
    text = f"{round(float(value), decimals):.{decimals}f}".rstrip("0")
    return text + "0" if text.endswith(".") else text
