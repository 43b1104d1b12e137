"""Greedy non-maximum suppression of predicted boxes (:class:`NMS`), NumPy and TensorFlow.

The NumPy path runs the compiled kernel of :mod:`lmnet.nms_kernel` when Numba is installed, else a
blocked NumPy loop; both reproduce TensorFlow's ``non_max_suppression`` selection. The IoU test is
private to this module rather than :func:`lmnet.boxes.iou_xywh`: it must reproduce TensorFlow's kernel
bit for bit (float32, flipped boxes allowed, strict ``>``) and is shaped for blocked, cache-sized
evaluation. Rows are those of :mod:`lmnet.post_processor`: ``[batch, num_boxes, 6]``
``(x, y, w, h, class_id, score)``, padding after the real rows.
"""
import math

import numpy as np

from lmnet import nms_kernel
from lmnet.boxes import PREDICTION_PADDING_ROW as PADDING_ROW, check_prediction_rows
from lmnet.data_processor import OutputsProcessor, import_tensorflow


def _corner_planes(boxes):
    """``[..., 4]`` xywh boxes → float32 planes ``[4, ...]``: ``x_min, y_min, x_max, y_max``.

    The far corner is ``x + w`` in float32 (as :func:`lmnet.boxes.xywh_to_xyxy` and
    :meth:`NMS.tf_call` compute it); min/max then make a box with a negative size the box between
    its two corners, as ``tf.image.non_max_suppression`` does. Coordinate-major planes keep each
    coordinate contiguous for the pairwise IoU.
    """
    x, y, w, h = np.moveaxis(np.asarray(boxes, np.float32), -1, 0)
    far_x, far_y = x + w, y + h
    return np.stack([np.minimum(x, far_x), np.minimum(y, far_y), np.maximum(x, far_x), np.maximum(y, far_y)])


def _overlaps(first, second, iou_threshold):
    """Whether ``IoU(first_p, second_k) > iou_threshold`` for every pair, batched over groups.

    ``IoU = inter / (area_p + area_k − inter)`` with ``inter = max(Δy, 0) · max(Δx, 0)`` the
    intersection's area and ``area = (y_max − y_min) · (x_max − x_min)``, all in float32 like
    TensorFlow's NMS kernel. A zero-area box never overlaps: its IoU is ``0`` or ``0/0 = NaN``,
    neither above a threshold in ``[0, 1]``. Only ``Δx`` is clamped: with ``Δx > 0 > Δy`` the
    IoU is negative, which is not above the threshold either.

    Args:
        first: ``[4, G, P]`` corner planes (see :func:`_corner_planes`).
        second: ``[4, G, K]`` corner planes.
        iou_threshold: float32 threshold in ``[0, 1]``.

    Returns:
        bool ``[G, P, K]``.
    """
    x0, y0, x1, y1 = first[..., :, None]
    u0, v0, u1, v1 = second[..., None, :]
    inter = np.minimum(x1, u1)
    inter -= np.maximum(x0, u0)
    np.maximum(inter, 0, out=inter)
    height = np.minimum(y1, v1)
    height -= np.maximum(y0, v0)
    inter *= height
    union = (y1 - y0) * (x1 - x0) + (v1 - v0) * (u1 - u0)
    union -= inter
    with np.errstate(invalid="ignore", divide="ignore"):
        inter /= union
    return inter > iou_threshold


def _resolve_block(suppresses, alive):
    """Greedy NMS inside one block of candidates already sorted by score, for several groups at once.

    Candidate ``i`` is kept iff it is alive and no kept candidate ``j < i`` suppresses it. Solved
    as a fixed point rather than one candidate at a time: each round removes the candidates with
    a kept suppressor and keeps those whose suppressors are all removed; every round decides at
    least the first undecided candidate, and usually many.

    Args:
        suppresses: bool ``[G, K, K]``, ``[g, j, i]`` true when ``j < i`` and they overlap.
        alive: bool ``[G, K]``, candidates not already suppressed.

    Returns:
        bool ``[G, K]``: the kept candidates.
    """
    weights = suppresses.astype(np.float32)
    kept = np.zeros_like(alive)
    removed = ~alive
    while True:
        undecided = ~(kept | removed)
        if not undecided.any():
            return kept
        by_kept = np.matmul(kept.astype(np.float32)[:, None, :], weights)[:, 0] > 0
        removed |= undecided & by_kept
        blocked = np.matmul((~removed).astype(np.float32)[:, None, :], weights)[:, 0] > 0
        kept |= ~(kept | removed) & ~blocked


def _descending_keys(scores, columns):
    """Unique int64 sort keys: ascending key = score descending, then lower column first.

    The float32 score's bits are mapped to an order-preserving integer (``-0.0`` counts as
    ``0.0``) in the high 32 bits and the column index fills the low bits, so keys never tie
    within a row and a plain (unstable) sort gives exactly that order.

    Args:
        scores: float32 ``[G, K]`` (no NaN).
        columns: int ``[G, K]`` or ``[K]``, distinct non-negative column indices below ``2**32``.
    """
    bits = (np.asarray(scores, np.float32) + np.float32(0)).view(np.int32)
    keys = (bits ^ ((bits >> 31) & 0x7FFFFFFF)).astype(np.int64)
    keys *= -(1 << 32)
    keys += columns
    return keys


def _sorted_columns(scores, stop):
    """Columns of the ``stop`` best scores of each row, by score descending then lower column.

    A partition finds the top ``stop`` of each row before sorting them; when equal scores
    straddle the cut (so the partition may have kept a higher column than one it left out)
    the whole row set is sorted instead.

    Args:
        scores: float32 ``[G, M]``, padding ``-inf``.
        stop: ``1 <= stop <= M``.

    Returns:
        int ``[G, stop]``.
    """
    width = scores.shape[1]
    if 4 * stop < width:
        top = np.argpartition(scores, width - stop, axis=1)[:, width - stop:]
        values = np.take_along_axis(scores, top, axis=1)
        cut = values.min(axis=1, keepdims=True)
        straddle = np.count_nonzero(scores == cut, axis=1) != np.count_nonzero(values == cut, axis=1)
        if not np.any(straddle & np.isfinite(cut[:, 0])):
            return np.take_along_axis(top, np.argsort(_descending_keys(values, top), axis=1), axis=1)
    return np.argsort(_descending_keys(scores, np.arange(width)), axis=1)[:, :stop]


def _cyclic_table(count, num_groups):
    """:func:`_group_table` of ``count`` rows whose group is ``row mod num_groups`` (all valid)."""
    return np.arange(count).reshape(-1, num_groups).T, np.full(num_groups, count // num_groups), True


def _group_table(groups, num_groups):
    """Groups the rows: ``(table, counts, cyclic)`` with ``table[g]`` the indices of group ``g``'s rows in
    ascending order, padded with ``-1`` to ``[G, max count]``; rows of group ``-1`` are left out.

    Rows straight from :class:`FormatYoloV2` (group ``= row mod G``) are recognised (``cyclic``)
    and grouped by a reshape instead of a sort.
    """
    count = len(groups)
    if num_groups > 1 and count % num_groups == 0 and np.array_equal(
            groups.reshape(-1, num_groups), np.broadcast_to(np.arange(num_groups), (count // num_groups, num_groups))):
        return _cyclic_table(count, num_groups)
    if num_groups == 1:
        index = np.flatnonzero(groups >= 0)
        counts = np.array([len(index)])
    else:
        order = np.argsort(groups, kind="stable")
        bounds = np.searchsorted(groups[order], np.arange(num_groups + 1))
        index, counts = order[bounds[0]:], np.diff(bounds)
    width = int(counts.max(initial=0))
    if np.all(counts == width):
        return index.reshape(num_groups, width), counts, False
    table = np.full((num_groups, width), -1, np.int64)
    offsets = np.repeat(width * np.arange(num_groups) - (np.cumsum(counts) - counts), counts)
    table.reshape(-1)[np.arange(len(index)) + offsets] = index
    return table, counts, False


class _Candidates:
    """One image's candidate boxes grouped (by class) in a padded ``[G, M]`` table, sorted lazily.

    Within a group, candidates are ordered by score descending, ties by lower row index (the
    order ``tf.image.non_max_suppression`` selects in). :meth:`prefix` sorts the first positions
    of every group into ``rows`` (input row indices, ``-1`` for padding) and ``planes`` (their
    corner planes ``[4, G, ·]``, zeros for padding, which never overlap).

    Args:
        boxes: ``[N, 6]`` rows.
        groups: integer ``[N]``, the group of each row, ``-1`` to leave it out; ``None`` when the group of
            every row is ``row mod num_groups``.
        num_groups: ``G``.
    """

    def __init__(self, boxes, groups, num_groups):
        self.boxes = boxes
        if groups is None:
            self.table, self.counts, cyclic = _cyclic_table(len(boxes), num_groups)
        else:
            self.table, self.counts, cyclic = _group_table(groups, num_groups)
        if cyclic:
            self.scores = np.ascontiguousarray(boxes[:, 5].reshape(-1, num_groups).T, np.float32)
        else:
            self.scores = np.ascontiguousarray(boxes[:, 5], np.float32).take(self.table)
            if self.counts.sum() < self.table.size:
                self.scores[self.table < 0] = -np.inf
        self.rows = np.zeros((num_groups, 0), np.int64)
        self.planes = np.zeros((4, num_groups, 0), np.float32)

    def prefix(self, stop):
        """Makes ``rows`` and ``planes`` cover at least the first ``stop`` sorted positions."""
        if self.rows.shape[1] >= stop:
            return
        stop = min(self.table.shape[1], max(stop, 2 * self.rows.shape[1], 256))
        self.rows = np.take_along_axis(self.table, _sorted_columns(self.scores, stop), axis=1)
        self.planes = _corner_planes(self.boxes[self.rows, :4])
        padding = self.rows < 0
        if padding.any():
            self.planes[:, padding] = 0


def _block_size(missing, survival):
    """Candidates in the next block: enough to fill ``missing`` boxes at the ``survival`` rate
    seen so far (``None`` before the first block: ``missing`` and a quarter), between 16 and 64.

    Blocks of at most 64 keep the pairwise arrays small enough to stay in cache.
    """
    wanted = missing * 1.25 if survival is None else missing / max(survival, 0.05) * 1.2
    return int(min(64, max(16, math.ceil(wanted) + 2)))


def _greedy_nms(candidates, max_output_size, iou_threshold):
    """Greedy NMS of every group of :class:`_Candidates`, processed in blocks of sorted candidates.

    A block's candidates are checked against the boxes kept in the earlier blocks, then resolved
    among themselves by :func:`_resolve_block`; a group stops once it keeps ``max_output_size``
    boxes, so only the top of each group is examined when suppression is rare.

    Returns:
        bool ``[G, P]`` over the first ``P`` sorted positions of ``candidates``: the kept ones
        (at most ``max_output_size`` per group).
    """
    num_groups = len(candidates.counts)
    kept = np.zeros((num_groups, 0), bool)
    count = np.zeros(num_groups, np.int64)
    start, examined = 0, 0
    while True:
        pending = (count < max_output_size) & (candidates.counts > start)
        if not pending.any():
            break
        groups = slice(None) if pending.all() else np.flatnonzero(pending)
        size = _block_size(max_output_size - int(count[groups].min()), count.sum() / examined if examined else None)
        stop = min(candidates.table.shape[1], start + size)
        candidates.prefix(stop)
        kept = np.pad(kept, ((0, 0), (0, stop - start)))
        alive = candidates.rows[groups, start:stop] >= 0
        examined += int(np.count_nonzero(alive))
        overlaps = _overlaps(candidates.planes[:, groups, :stop], candidates.planes[:, groups, start:stop],
                             iou_threshold)
        if start:
            alive &= ~(overlaps[:, :start] & kept[groups, :start][:, :, None]).any(axis=1)
        inside = overlaps[:, start:]
        inside &= np.triu(np.ones((stop - start,) * 2, bool), 1)
        kept[groups, start:] = _resolve_block(inside, alive)
        count = np.count_nonzero(kept, axis=1)
        start = stop
    return kept & (np.cumsum(kept, axis=1) <= max_output_size)


class NMS(OutputsProcessor):
    """Greedy non-maximum suppression, per class (as Blueoil) or across classes.

    Within each class (or over all valid boxes when ``per_class`` is false), boxes are visited by
    score descending (ties: lower row index first); a box is kept unless its IoU with an already
    kept box is **strictly greater** than ``iou_threshold`` — exactly the selection of
    ``tf.image.non_max_suppression`` (with ``score_threshold = -inf``), including its order — and
    at most ``max_output_size`` boxes are kept per class. IoU is computed in float32 on the
    corners ``(x, y, x + w, y + h)``; a zero-area box suppresses nothing and is never suppressed.
    Padding rows, rows whose class id is outside ``[0, C)`` and rows scoring ``-inf`` or NaN are
    ignored.

    Output ``[B, R, 6]``: the kept rows unchanged, sorted per image by score descending (ties:
    lower class, then selection order), then padding rows; ``R = min(N, max_output_size · C)``
    per class, ``min(N, max_output_size)`` otherwise.

    Args:
        classes: the class names (``C = len(classes)``).
        iou_threshold: IoU above which the lower-scored box is suppressed, in ``[0, 1]``.
        max_output_size: the most boxes kept per class (per image when ``per_class`` is false).
        per_class: suppress within each class (true) or across all classes (false).
    """

    def __init__(self, classes, iou_threshold, max_output_size, per_class=True):
        self.classes = list(classes)
        self.iou_threshold = float(iou_threshold)
        self.max_output_size = int(max_output_size)
        self.per_class = bool(per_class)
        if not self.classes:
            raise ValueError("classes must not be empty")
        if not 0 <= self.iou_threshold <= 1:
            raise ValueError(f"iou_threshold must be in [0, 1], got {iou_threshold!r}")
        if self.max_output_size < 1 or self.max_output_size != max_output_size:
            raise ValueError(f"max_output_size must be a positive integer, got {max_output_size!r}")

    def output_size(self, num_boxes):
        """Rows per image of the output, for ``num_boxes`` input rows per image."""
        return min(num_boxes, self.max_output_size * (len(self.classes) if self.per_class else 1))

    def _groups(self, boxes):
        """The NMS group of each of ``[N, 6]`` rows, in the smallest integer type that fits.

        A row's group is its class (``0`` for all when not ``per_class``) when its class id is in
        ``[0, C)`` and its score is above ``-inf`` (TensorFlow's test, which also rejects NaN);
        ``-1`` (left out) otherwise.
        """
        class_ids = np.rint(boxes[:, 4])
        valid = (class_ids >= 0) & (class_ids < len(self.classes)) & (boxes[:, 5] > -np.inf)
        dtype = np.int8 if len(self.classes) < 2 ** 7 else np.int16 if len(self.classes) < 2 ** 15 else np.int64
        return np.where(valid, class_ids if self.per_class else 0, -1).astype(dtype)

    def _cyclic(self, boxes):
        """Whether the rows come straight from :class:`FormatYoloV2`: class ids exactly ``row mod C``
        and every score above ``-inf`` (so every row is valid and its group is its class)."""
        num_classes = len(self.classes)
        if not self.per_class or num_classes < 2 or len(boxes) % num_classes:
            return False
        pattern = np.arange(num_classes, dtype=boxes.dtype)
        return bool(np.array_equal(boxes[:, 4].reshape(-1, num_classes), np.broadcast_to(pattern, (
            len(boxes) // num_classes, num_classes))) and np.all(boxes[:, 5] > -np.inf))

    def _select(self, boxes):
        """Kept row indices of one image's ``[N, 6]`` boxes, sorted for the output.

        Runs the compiled kernel of :mod:`lmnet.nms_kernel` when Numba is installed, else the
        vectorized NumPy path; both select the same rows.
        """
        num_groups = len(self.classes) if self.per_class else 1
        groups = None if self._cyclic(boxes) else self._groups(boxes)
        if nms_kernel.use_kernel():
            kept = self._select_compiled(boxes, groups, num_groups)
        else:
            candidates = _Candidates(boxes, groups, num_groups)
            kept = _greedy_nms(candidates, self.max_output_size, np.float32(self.iou_threshold))
            kept = candidates.rows[:, :kept.shape[1]][kept]
        return kept[np.argsort(-boxes[kept, 5], kind="stable")]

    def _select_compiled(self, boxes, groups, num_groups):
        """Kept rows by group, then selection order, from :func:`lmnet.nms_kernel.greedy_nms`.

        ``groups`` is ``None`` when the group of every row is ``row mod num_groups``; the best
        candidates of each group are then picked and sorted here (a partition, far cheaper than
        ordering them all), and the kernel orders the rest only if it needs them.
        """
        if groups is None:
            rows = np.arange(len(boxes)).reshape(-1, num_groups).T
            keys = _descending_keys(boxes[:, 5].reshape(-1, num_groups).T, rows)
            starts = np.arange(num_groups + 1) * keys.shape[1]
            best = 2 * self.max_output_size + 32
            sorted_counts = np.zeros(num_groups, np.int64)
            if 4 * best < keys.shape[1]:
                keys = np.partition(keys, best - 1, axis=1)
                keys[:, :best].sort(axis=1)
                sorted_counts[:] = best
        else:
            order = np.argsort(groups, kind="stable")
            rows = order[groups[order] >= 0]
            starts = np.searchsorted(groups[rows], np.arange(num_groups + 1))
            keys = _descending_keys(boxes[rows, 5], rows)
            sorted_counts = np.zeros(num_groups, np.int64)
        kept = nms_kernel.greedy_nms(boxes, keys.reshape(-1), starts, sorted_counts, self.max_output_size,
                                     self.iou_threshold)
        return kept[kept >= 0]

    def process(self, outputs):
        """NumPy version on ``[B, N, 6]`` boxes."""
        outputs = check_prediction_rows(outputs, "NMS")
        result = np.zeros((len(outputs), self.output_size(outputs.shape[1]), 6), outputs.dtype)
        result[..., 4] = -1
        for image, boxes in enumerate(outputs):
            kept = self._select(boxes)
            result[image, :len(kept)] = boxes[kept]
        return result

    def tf_call(self, outputs):
        """TensorFlow version: ``tf.image.non_max_suppression`` per class and image (``tf.map_fn``)."""
        tf = import_tensorflow()
        outputs = tf.convert_to_tensor(outputs, tf.float32)
        num_boxes = outputs.shape[1]
        if num_boxes is None:
            size = tf.minimum(tf.shape(outputs)[1], self.output_size(2 ** 31 - 1))
        else:
            size = self.output_size(num_boxes)
        signature = tf.TensorSpec([size if isinstance(size, int) else None, 6], tf.float32)
        return tf.map_fn(lambda boxes: self._tf_image(boxes, size), outputs, fn_output_signature=signature)

    def _tf_image(self, boxes, size):
        """NMS of one image's ``[N, 6]`` boxes in TensorFlow, padded to ``size`` rows."""
        tf = import_tensorflow()
        near, far = boxes[:, 0:2], boxes[:, 0:2] + boxes[:, 2:4]
        corners = tf.concat([near[:, ::-1], far[:, ::-1]], axis=1)  # (y, x, y + h, x + w)
        class_ids = tf.round(boxes[:, 4])
        valid = (class_ids >= 0) & (class_ids < len(self.classes))
        masks = ([valid & tf.equal(class_ids, c) for c in range(len(self.classes))] if self.per_class
                 else [valid])
        kept = []
        for mask in masks:
            index = tf.where(mask)[:, 0]
            selected = tf.image.non_max_suppression(tf.gather(corners, index), tf.gather(boxes[:, 5], index),
                                                    self.max_output_size, self.iou_threshold)
            kept.append(tf.gather(index, selected))
        rows = tf.gather(boxes, tf.concat(kept, axis=0))
        rows = tf.gather(rows, tf.argsort(rows[:, 5], direction="DESCENDING", stable=True))
        padding = tf.tile(tf.constant([PADDING_ROW], tf.float32), [size - tf.shape(rows)[0], 1])
        return tf.concat([rows, padding], axis=0)
