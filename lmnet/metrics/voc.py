"""PASCAL VOC average precision, computed exactly as the VOC development kit does, vectorized with NumPy.

Inputs (the data conventions of :doc:`/detection`): boxes are ``(x, y, w, h)`` in pixel-edge
coordinates (a box covering pixel columns 0..9 has ``x = 0, w = 10``; a VOC XML box
``xmin=1 .. xmax=10`` becomes ``x = 0, w = 10``).
Detections of one image are a float array ``[N, 6]`` of rows ``(x, y, w, h, class_id, score)``;
rows whose class_id is ``-1`` are padding and are skipped. The ground truth of one image is a
:class:`lmnet.datasets.detection_base.Annotation`; its ``ignore`` flags are VOC's ``difficult``.

The rules, class by class:

1. Every detection of the class, over all images, is sorted by score, highest first. The sort is
   stable: equal scores keep their input order (image order, then row order inside the image).
   The devkit's MATLAB code sorts stably too; its Python port's default quicksort does not, so
   tied scores are the one place where that port can give a different, order-dependent answer.
2. Going down that list, each detection is compared with the ground truth of the same class in
   *its own* image, and takes the object with the highest IoU (the first such object in
   annotation order on a tie). It is a true positive when that IoU is strictly greater than the
   threshold (``ovmax > ovthresh``, as the devkit's Python code; its MATLAB code uses ``>=``),
   the object is not difficult and no earlier detection took it. A second detection of a taken
   object is a false positive; a detection whose best object is difficult is neither (it is
   skipped but still occupies its place in the list); anything else, including every detection
   in an image without ground truth of the class, is a false positive. A detection never falls
   back to its second-best object.
3. ``npos`` is the number of non-difficult objects of the class. Recall is ``cumsum(tp) / npos``
   and precision ``cumsum(tp) / max(cumsum(tp) + cumsum(fp), eps)``.
4. AP is either VOC2007's 11-point interpolation or VOC2010's all-point area (see
   :func:`average_precision`).

Classes without any non-difficult object (``npos == 0``) have no defined recall: their AP is
``nan`` and mAP is the mean over the other classes (the devkit only ever evaluates classes that
occur in the test set). mAP is ``nan`` when no class has an object.
"""
import numpy as np

_EPS = np.finfo(np.float64).eps

# The devkit's Python thresholds, np.arange(0, 1.1, 0.1): 0.3, 0.6 and 0.7 come out one ulp
# above their decimal value, so a recall of exactly 3/10 does not reach "0.3". Kept for exactness.
_VOC07_RECALL_THRESHOLDS = np.arange(0.0, 1.1, 0.1)


def voc_evaluate(detections, annotations, num_classes, iou_threshold=0.5, use_07_metric=False):
    """Evaluates detections over a set of images with the PASCAL VOC rules (see the module docstring).

    IoU is computed as the devkit does, pixel-inclusively: each box becomes inclusive corners
    ``(x, y, x + w - 1, y + h - 1)``, the intersection is ``iw = min(x2) - max(x1) + 1`` (likewise
    ``ih``), counted only when both are positive, and each area is ``(x2 - x1 + 1) * (y2 - y1 + 1)``.
    For our edge coordinates this equals the plain edge IoU: ``x + w - 1 + 1 = x + w`` puts every
    ``+ 1`` back onto the exclusive right edge, so ``iw = min(x + w) - max(x)`` and each area is
    ``w * h``; the devkit's ``+ 1`` only compensates for its 1-based inclusive pixel indices.
    The inclusive form is kept so that results match the devkit to the last bit.

    Args:
        detections: one ``[N_i, 6]`` array per image (a ``[images, N, 6]`` array works too), rows
            ``(x, y, w, h, class_id, score)``; ``class_id == -1`` rows are padding.
        annotations: one :class:`~lmnet.datasets.detection_base.Annotation` per image, same order.
        num_classes: number of classes; class ids must be in ``[0, num_classes)``.
        iou_threshold: a detection matches when its best IoU is strictly greater than this.
        use_07_metric: VOC2007 11-point interpolated AP instead of the all-point area.

    Returns:
        A dict: ``"ap"`` (list of per-class AP, ``nan`` when ``npos == 0``), ``"map"`` (mean of the
        non-``nan`` APs, ``nan`` if none), and per-class lists ``"npos"``, ``"num_detections"``,
        ``"precision"`` and ``"recall"`` (the cumulative curves, ``float64`` arrays in score order) and
        ``"scores"`` (the detections' scores in that order: point ``k`` of a curve counts the detections
        scoring at least ``scores[k]``, ties broken as in rule 1).

    Raises:
        ValueError: different numbers of detection arrays and annotations, a class id out of range,
            or a threshold outside ``[0, 1]``.
    """
    if not 0.0 <= iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold must be in [0, 1], got {iou_threshold}")
    if len(detections) != len(annotations):
        raise ValueError(f"{len(detections)} detection arrays for {len(annotations)} annotations")
    dets = _stack_detections(detections, num_classes)
    gts = _stack_annotations(annotations, num_classes)
    result = {"ap": [], "npos": [], "num_detections": [], "precision": [], "recall": [], "scores": []}
    for class_id in range(num_classes):
        class_result = _evaluate_class(_select(dets, class_id), _select(gts, class_id), iou_threshold, use_07_metric)
        for key, value in class_result.items():
            result[key].append(value)
    present = [ap for ap in result["ap"] if not np.isnan(ap)]
    result["map"] = float(np.mean(present)) if present else float("nan")
    return result


def average_precision(recall, precision, use_07_metric=False):
    """Area under a precision/recall curve, as the VOC devkit computes it.

    * VOC2007 (``use_07_metric=True``): the mean over ``t = 0, 0.1, ..., 1`` (the devkit's
      ``np.arange(0, 1.1, 0.1)``) of the highest precision at a recall ``>= t``, 0 when the
      recall never reaches ``t``.
    * VOC2010+ (all-point): the curve is extended with ``(recall 0, precision 0)`` in front and
      ``(recall 1, precision 0)`` behind, precision is replaced by its envelope (the maximum
      precision at this or any later point), and AP is the sum of ``recall step * envelope``
      over the points where recall changes.

    Args:
        recall: cumulative recall, non-decreasing, in score order.
        precision: cumulative precision, same length.
        use_07_metric: 11-point interpolation instead of the all-point area.

    Returns:
        The AP as a Python float (0 for empty curves).
    """
    recall = np.asarray(recall, dtype=np.float64)
    precision = np.asarray(precision, dtype=np.float64)
    if use_07_metric:
        return _eleven_point_ap(recall, precision)
    return _all_point_ap(recall, precision)


def voc_summary(result, classes):
    """A markdown table of a :func:`voc_evaluate` result: one row per class, then the mAP.

    Args:
        result: the dict returned by :func:`voc_evaluate`.
        classes: class names, in class-id order.

    Returns:
        The table as a string; ``nan`` APs (no ground truth) are shown as ``n/a``.
    """
    lines = ["| class | AP | objects | detections |", "|---|---:|---:|---:|"]
    for name, ap, npos, count in zip(classes, result["ap"], result["npos"], result["num_detections"]):
        lines.append(f"| {name} | {_format_ap(ap)} | {npos} | {count} |")
    lines.append(f"| **mAP** | {_format_ap(result['map'])} | {sum(result['npos'])} | "
                 f"{sum(result['num_detections'])} |")
    return "\n".join(lines)


def _format_ap(value):
    return "n/a" if np.isnan(value) else f"{value:.4f}"


def _check_class_ids(class_ids, num_classes, what):
    bad = (class_ids < 0) | (class_ids >= num_classes)
    if np.any(bad):
        raise ValueError(f"{what} class id {class_ids[bad][0]} outside [0, {num_classes})")


def _stack_detections(detections, num_classes):
    """All detections as flat arrays: image index, boxes ``[M, 4]``, class ids and scores (padding dropped)."""
    if isinstance(detections, np.ndarray) and detections.ndim == 3:
        arrays = detections.astype(np.float64).reshape(-1, 6)
        image = np.repeat(np.arange(detections.shape[0]), detections.shape[1])
    else:
        parts = [np.asarray(d, dtype=np.float64).reshape(-1, 6) for d in detections]
        arrays = np.concatenate(parts) if parts else np.zeros((0, 6))
        image = np.repeat(np.arange(len(parts)), [len(p) for p in parts])
    class_ids = np.rint(arrays[:, 4]).astype(np.int64)
    keep = class_ids != -1
    _check_class_ids(class_ids[keep], num_classes, "detection")
    return {"image": image[keep], "boxes": arrays[keep, :4], "class_ids": class_ids[keep],
            "scores": arrays[keep, 5]}


def _stack_annotations(annotations, num_classes):
    """All ground-truth objects as flat arrays in image order, then annotation order."""
    boxes = [np.asarray(a.boxes, dtype=np.float64).reshape(-1, 4) for a in annotations]
    class_ids = _concat([np.asarray(a.class_ids).reshape(-1) for a in annotations], np.int64)
    _check_class_ids(class_ids, num_classes, "ground-truth")
    return {"image": np.repeat(np.arange(len(boxes)), [len(b) for b in boxes]),
            "boxes": _concat(boxes, np.float64, (0, 4)), "class_ids": class_ids,
            "difficult": _concat([np.asarray(a.ignore).reshape(-1) for a in annotations], bool)}


def _concat(parts, dtype, empty_shape=(0,)):
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(empty_shape, dtype)


def _select(arrays, class_id):
    """The rows of one class (order kept)."""
    keep = arrays["class_ids"] == class_id
    return {key: value[keep] for key, value in arrays.items()}


def _evaluate_class(dets, gts, iou_threshold, use_07_metric):
    """Per-class AP, npos, detection count, the precision/recall curves and the scores they are ordered by."""
    order = np.argsort(-dets["scores"], kind="stable")
    image, boxes = dets["image"][order], dets["boxes"][order]
    npos = int(np.count_nonzero(~gts["difficult"]))
    best_iou, best_gt = _best_matches(image, boxes, gts["image"], gts["boxes"])
    tp, fp = _true_false_positives(best_iou, best_gt, gts["difficult"], iou_threshold)
    tp, fp = np.cumsum(tp), np.cumsum(fp)
    recall = tp / npos if npos else np.full(len(tp), np.nan)
    precision = tp / np.maximum(tp + fp, _EPS)
    ap = average_precision(recall, precision, use_07_metric) if npos else float("nan")
    return {"ap": ap, "npos": npos, "num_detections": len(order), "precision": precision, "recall": recall,
            "scores": dets["scores"][order]}


def _best_matches(det_image, det_boxes, gt_image, gt_boxes):
    """For every detection, the highest IoU with the ground truth of its image and that object's index.

    ``gt_image`` must be sorted (it is: objects are stacked image by image). Detections in images
    without objects get IoU ``-inf`` and index ``-1``. Ties go to the first object.
    """
    starts = np.searchsorted(gt_image, det_image, side="left")
    counts = np.searchsorted(gt_image, det_image, side="right") - starts
    pair_det = np.repeat(np.arange(len(det_image)), counts)
    offsets = np.cumsum(counts) - counts
    pair_gt = starts[pair_det] + np.arange(len(pair_det)) - offsets[pair_det]
    iou = _inclusive_iou(det_boxes[pair_det], gt_boxes[pair_gt])
    best_iou = np.full(len(det_image), -np.inf)
    best_gt = np.full(len(det_image), -1, dtype=np.int64)
    has_gt = counts > 0
    if not np.any(has_gt):
        return best_iou, best_gt
    best_iou[has_gt] = np.maximum.reduceat(iou, offsets[has_gt])
    # The first pair of each detection that reaches its maximum: pairs are in (detection, object) order.
    at_max = np.flatnonzero(iou == best_iou[pair_det])
    first_det, first = np.unique(pair_det[at_max], return_index=True)
    best_gt[first_det] = pair_gt[at_max[first]]
    return best_iou, best_gt


def _inclusive_iou(boxes, gt_boxes):
    """Elementwise IoU of two ``[P, 4]`` xywh arrays, computed on inclusive corners as the devkit does."""
    x1, y1 = boxes[:, 0], boxes[:, 1]
    x2, y2 = x1 + boxes[:, 2] - 1.0, y1 + boxes[:, 3] - 1.0
    gx1, gy1 = gt_boxes[:, 0], gt_boxes[:, 1]
    gx2, gy2 = gx1 + gt_boxes[:, 2] - 1.0, gy1 + gt_boxes[:, 3] - 1.0
    iw = np.minimum(x2, gx2) - np.maximum(x1, gx1) + 1.0
    ih = np.minimum(y2, gy2) - np.maximum(y1, gy1) + 1.0
    overlap = (iw > 0) & (ih > 0)
    inter = np.where(overlap, iw * ih, 0.0)
    union = (x2 - x1 + 1.0) * (y2 - y1 + 1.0) + (gx2 - gx1 + 1.0) * (gy2 - gy1 + 1.0) - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(overlap, inter / union, 0.0)


def _true_false_positives(best_iou, best_gt, difficult, iou_threshold):
    """0/1 arrays ``tp``, ``fp`` of detections in score order (both 0 for a match to a difficult object)."""
    matched = np.flatnonzero(best_iou > iou_threshold)
    candidate = matched[~difficult[best_gt[matched]]]
    _, first = np.unique(best_gt[candidate], return_index=True)
    tp = np.zeros(len(best_iou))
    tp[candidate[first]] = 1.0
    fp = np.ones(len(best_iou))
    fp[matched] = 0.0
    fp[candidate] = 1.0 - tp[candidate]
    return tp, fp


def _eleven_point_ap(recall, precision):
    ap = 0.0
    for threshold in _VOC07_RECALL_THRESHOLDS:
        reached = recall >= threshold
        ap += (float(np.max(precision[reached])) if np.any(reached) else 0.0) / 11.0  # summed as the devkit does
    return ap


def _all_point_ap(recall, precision):
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[0.0], precision, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    steps = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[steps + 1] - mrec[steps]) * mpre[steps + 1]))
