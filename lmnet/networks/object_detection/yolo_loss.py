r"""The YOLOv2 region loss, in pure TensorFlow.

Raw network output ``[B, gh, gw, A * (C + 5)]`` is read per anchor in the layout of
:mod:`lmnet.yolo_output` (class logits, the objectness logit :math:`t_o`, then
:math:`t_x, t_y, t_w, t_h`). With anchors :math:`(p_w, p_h)` in grid-cell units and
an input of ``H x W`` pixels, the prediction of cell ``(row, col)`` decodes to

.. math::

    c_x = \frac{col + \sigma(t_x)}{g_w} W,\quad c_y = \frac{row + \sigma(t_y)}{g_h} H,\quad
    w = \frac{p_w e^{t_w}}{g_w} W,\quad h = \frac{p_h e^{t_h}}{g_h} H

and the box ``(c_x - w/2, c_y - h/2, w, h)`` in pixels; the score of class ``c`` is
:math:`\sigma(t_o)\,\mathrm{softmax}(t_{cls})_c`.

See :class:`YoloLoss` for the loss itself.
"""
import collections

import tensorflow as tf

from lmnet.boxes import tf_ciou_xywh_aligned, tf_iou_xywh, tf_iou_xywh_aligned
from lmnet.yolo_output import TENSORFLOW, Decoded, decode

#: The decoded raw output, each ``[B, gh, gw, A, ...]`` (:data:`lmnet.yolo_output.Decoded`).
YoloPrediction = Decoded
#: The dense targets of the responsible predictions, each ``[B, gh, gw, A, ...]`` (zero elsewhere).
YoloTargets = collections.namedtuple(
    "YoloTargets", ["mask", "offsets", "log_sizes", "coordinate_weights", "class_ids", "boxes"])


def anchor_shape_iou(widths, heights, anchors):
    """IoU of boxes and anchors compared by shape only (both centred on the same point).

    Args:
        widths: ``[...]`` box widths in grid-cell units.
        heights: ``[...]`` box heights in grid-cell units.
        anchors: ``[A, 2]`` anchor ``(w, h)`` in grid-cell units.

    Returns:
        ``[..., A]`` IoUs.
    """
    widths, heights = widths[..., None], heights[..., None]
    intersection = tf.minimum(widths, anchors[:, 0]) * tf.minimum(heights, anchors[:, 1])
    union = widths * heights + anchors[:, 0] * anchors[:, 1] - intersection
    return tf.math.divide_no_nan(intersection, union)


def last_one_wins(keys, valid):
    """Marks the valid entries whose key no later valid entry of the same image repeats.

    Args:
        keys: ``[B, N]`` integer keys (the flat cell-and-anchor index of each ground truth).
        valid: ``[B, N]`` bool.

    Returns:
        ``[B, N]`` bool: ``valid`` and not superseded by a later valid entry with the same key.
    """
    count = tf.shape(keys)[1]
    same = tf.equal(keys[:, :, None], keys[:, None, :]) & valid[:, None, :]
    later = tf.range(count)[None, :] > tf.range(count)[:, None]  # [i, j]: j comes after i
    return valid & ~tf.reduce_any(same & later[None], axis=-1)


class YoloLoss:
    r"""The YOLOv2 region loss.

    **Assignment.** A ground truth ``(x, y, w, h, class_id)`` (pixels) is valid when
    ``class_id >= 0`` and ``w, h > 0`` (padding rows have ``class_id = -1``). It is assigned to the
    cell containing its centre and to the anchor whose shape best matches it
    (:func:`anchor_shape_iou`); that prediction is *responsible* for it. When two ground truths of
    an image fall on the same cell and anchor, the later row wins (deterministically). With
    ``neighbour_cells`` it is also assigned, with the same anchors, to the horizontal and the vertical neighbour
    cell nearest its centre (YOLOv5's assignment), and a centre cell's claim wins over a neighbour's.

    **Terms**, each summed over cells and anchors of an image (:math:`\mathbb{1}` marks responsible
    predictions, :math:`\hat{\ }` their targets):

    .. math::

        L_{coord} &= \lambda_{coord} \sum \mathbb{1}\, s\,
            [(\sigma(t_x) - \hat x)^2 + (\sigma(t_y) - \hat y)^2 + (t_w - \hat w)^2 + (t_h - \hat h)^2] \\
        L_{obj} &= \lambda_{obj} \sum \mathbb{1}\, (\sigma(t_o) - \hat o)^2 \\
        L_{noobj} &= \lambda_{noobj} \sum (1 - \mathbb{1})\,[\max_g IoU(b, g) \le \theta]\, \sigma(t_o)^2 \\
        L_{cls} &= \lambda_{cls} \sum \mathbb{1}\, \mathrm{CE}(\mathrm{softmax}(t_{cls}), \hat c) \\
        L_{prior} &= [step < S]\, \lambda_{prior} \sum (1 - \mathbb{1})
            [(\sigma(t_x) - \tfrac12)^2 + (\sigma(t_y) - \tfrac12)^2 + t_w^2 + t_h^2]

    with :math:`\hat x, \hat y` the centre's offset inside its cell, :math:`\hat w = \log(w_g / p_w)`,
    :math:`\hat h = \log(h_g / p_h)` (sizes in cell units), :math:`s = 2 - w_g h_g / (W H)` (bigger
    weight for small boxes; ``size_weighting=False`` makes it 1), :math:`\hat o` the IoU of the
    predicted box with its ground truth (``rescore=True``, gradient stopped) or 1, :math:`\theta`
    ``iou_threshold`` (a prediction that already overlaps some ground truth of its image that much
    is not pushed towards "no object"), :math:`S` ``warmup_steps`` and :math:`\lambda_{prior}`
    ``prior_scale``. The loss is the batch mean of the per-image sum of the five terms.

    Args:
        image_size: ``(height, width)`` of the network input in pixels.
        anchors: ``[[w, h], ...]`` in grid-cell units.
        num_classes: number of classes.
        object_scale: :math:`\lambda_{obj}`.
        no_object_scale: :math:`\lambda_{noobj}`.
        class_scale: :math:`\lambda_{cls}`.
        coordinate_scale: :math:`\lambda_{coord}`.
        iou_threshold: :math:`\theta`.
        warmup_steps: :math:`S` (0 disables the prior term).
        prior_scale: :math:`\lambda_{prior}`.
        rescore: objectness target is the IoU (True) or 1 (False).
        size_weighting: use :math:`s = 2 - w h / (W H)` (True) or 1.
        box_loss: ``"mse"`` (the :math:`L_{coord}` above) or ``"ciou"`` (:math:`1 - \mathrm{CIoU}` of the
            decoded box and its ground truth, times :math:`\lambda_{coord} s`).
        objectness_loss: ``"mse"`` (the squared errors above) or ``"bce"`` (binary cross-entropy of the logit).
        assign_iou_threshold: ``None``, or a shape IoU that makes every anchor of the cell reaching it
            responsible too (besides the best one).
        neighbour_cells: also assign each ground truth to the two neighbouring cells nearest its centre
            (:meth:`with_neighbour_cells`); centres then decode with a margin of :data:`NEIGHBOUR_CENTRE_MARGIN`
            cells, :math:`\hat x, \hat y` lie in :math:`(-\tfrac12, \tfrac32)` and the prior term's
            cell centre stays :math:`\tfrac12`.
    """

    def __init__(self, image_size, anchors, num_classes, object_scale=5.0, no_object_scale=1.0, class_scale=1.0,
                 coordinate_scale=1.0, iou_threshold=0.6, warmup_steps=0, prior_scale=0.01, rescore=True,
                 size_weighting=True, box_loss="mse", objectness_loss="mse", assign_iou_threshold=None,
                 neighbour_cells=False):
        self.image_size = tuple(float(s) for s in image_size)
        self.anchors = tf.constant(anchors, tf.float32)
        self.num_anchors = len(anchors)
        self.num_classes = num_classes
        self.object_scale = object_scale
        self.no_object_scale = no_object_scale
        self.class_scale = class_scale
        self.coordinate_scale = coordinate_scale
        self.iou_threshold = iou_threshold
        self.warmup_steps = int(warmup_steps or 0)
        self.prior_scale = prior_scale
        self.rescore = rescore
        self.size_weighting = size_weighting
        self.box_loss = _choice("box_loss", box_loss, BOX_LOSSES)
        self.objectness_loss = _choice("objectness_loss", objectness_loss, OBJECTNESS_LOSSES)
        self.assign_iou_threshold = None if assign_iou_threshold is None else float(assign_iou_threshold)
        self.neighbour_cells = bool(neighbour_cells)
        #: How far (cells) a decoded centre may lie outside its cell (:func:`lmnet.yolo_output.decode`).
        self.centre_margin = NEIGHBOUR_CENTRE_MARGIN if self.neighbour_cells else 0.0

    def __call__(self, gt_boxes, outputs, step=None):
        """Returns the scalar loss: the batch mean of the per-image sum of :meth:`terms`."""
        terms = self.terms(gt_boxes, outputs, step)
        return tf.reduce_mean(tf.add_n(list(terms.values())))

    def terms(self, gt_boxes, outputs, step=None):
        """Returns the loss terms per image.

        Args:
            gt_boxes: ``[B, N, 5]`` ground truths ``(x, y, w, h, class_id)`` in pixels.
            outputs: ``[B, gh, gw, A * (C + 5)]`` raw network output.
            step: the training step (a tensor or variable), or ``None`` for no prior term.

        Returns:
            ``{"coordinate", "object", "no_object", "class", "prior"}``, each ``[B]``.
        """
        prediction = self.decode(outputs)
        targets = self.build_targets(gt_boxes, tf.shape(prediction.object_logits)[1:3])
        mask, unmatched = targets.mask, 1.0 - targets.mask
        box_error = self.box_error(prediction, targets)
        object_error, no_object_error = self.objectness_errors(prediction, targets)
        no_object_error = self.no_object_weight(prediction, gt_boxes) * no_object_error
        class_error = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets.class_ids,
                                                                     logits=prediction.class_logits)
        prior_error = _squared(prediction.offsets - 0.5) + _squared(prediction.log_sizes)
        return {
            "coordinate": self.coordinate_scale * _image_sum(mask * targets.coordinate_weights * box_error),
            "object": self.object_scale * _image_sum(mask * object_error),
            "no_object": self.no_object_scale * _image_sum(unmatched * no_object_error),
            "class": self.class_scale * _image_sum(mask * class_error),
            "prior": self.warmup_factor(step) * self.prior_scale * _image_sum(unmatched * prior_error),
        }

    def decode(self, outputs):
        """Splits and decodes the raw output ``[B, gh, gw, A * (C + 5)]`` (:func:`lmnet.yolo_output.decode`).

        Returns:
            A :data:`YoloPrediction`: ``offsets`` ``[..., 2]`` = :math:`\\sigma(t_x), \\sigma(t_y)`,
            ``log_sizes`` ``[..., 2]`` = :math:`t_w, t_h`, ``object_logits`` ``[...]``,
            ``class_logits`` ``[..., C]`` and ``boxes`` ``[..., 4]`` ``(x, y, w, h)`` in pixels.
        """
        return decode(outputs, self.anchors, self.num_classes, self.image_size, TENSORFLOW, self.centre_margin)

    def build_targets(self, gt_boxes, grid_size):
        """Assigns ground truths to predictions and scatters their targets onto the grid.

        Args:
            gt_boxes: ``[B, N, 5]`` ground truths in pixels (padding rows ``class_id = -1``).
            grid_size: ``(gh, gw)`` int tensor.

        Returns:
            A :data:`YoloTargets` of ``[B, gh, gw, A, ...]`` tensors, zero where no ground truth is
            assigned (``mask`` is 1 at the responsible predictions).
        """
        gt_boxes = tf.cast(gt_boxes, tf.float32)
        grid_h, grid_w = _grid_floats(grid_size)
        height, width = self.image_size
        x, y, w, h, class_ids = tf.unstack(gt_boxes, num=5, axis=-1)
        valid = (class_ids >= 0) & (w > 0) & (h > 0)
        centre_x = (x + w / 2) / width * grid_w  # grid units
        centre_y = (y + h / 2) / height * grid_h
        cols = tf.clip_by_value(tf.floor(centre_x), 0.0, grid_w - 1.0)
        rows = tf.clip_by_value(tf.floor(centre_y), 0.0, grid_h - 1.0)
        if self.neighbour_cells:
            gt_boxes, valid, centre_x, centre_y, rows, cols = self.with_neighbour_cells(
                gt_boxes, valid, centre_x, centre_y, rows, cols, grid_w, grid_h)
            x, y, w, h, class_ids = tf.unstack(gt_boxes, num=5, axis=-1)
        cell_w, cell_h = w / width * grid_w, h / height * grid_h
        chosen = self.chosen_anchors(anchor_shape_iou(cell_w, cell_h, self.anchors)) & valid[..., None]  # [B, N, A]
        entries = tf.shape(gt_boxes)[1] * self.num_anchors

        def per_entry(values):  # [B, N, k] -> [B, N * A, k], ground-truth major
            repeated = tf.repeat(values[:, :, None, :], self.num_anchors, axis=2)
            return tf.reshape(repeated, tf.concat([tf.shape(values)[:1], [entries, values.shape[-1]]], 0))

        anchor_ids = tf.tile(tf.range(self.num_anchors), [tf.shape(gt_boxes)[1]])[None]  # [1, N * A]
        anchor_sizes = tf.gather(self.anchors, anchor_ids)
        chosen = tf.reshape(chosen, tf.concat([tf.shape(gt_boxes)[:1], [entries]], 0))
        cells = per_entry(tf.stack([rows, cols], -1))
        keys = (tf.cast(cells[..., 0] * grid_w + cells[..., 1], tf.int32)) * self.num_anchors + anchor_ids
        kept = last_one_wins(keys, chosen)
        sizes = per_entry(tf.stack([cell_w, cell_h], -1))
        safe = tf.where(chosen[..., None], sizes, anchor_sizes)  # no log(0) on padding
        values = tf.concat([
            tf.ones_like(sizes[..., :1]),
            per_entry(tf.stack([centre_x - cols, centre_y - rows], axis=-1)),
            tf.math.log(safe / anchor_sizes),
            per_entry(self.coordinate_weights(w, h)[..., None]),
            per_entry(class_ids[..., None]),
            per_entry(gt_boxes[..., :4]),
        ], axis=-1)
        anchor_column = tf.broadcast_to(anchor_ids, tf.shape(keys))[..., None]
        positions = tf.concat([tf.cast(cells, tf.int32), anchor_column], -1)
        return self._scatter(kept, positions, values, grid_size)

    @staticmethod
    def with_neighbour_cells(gt_boxes, valid, centre_x, centre_y, rows, cols, grid_w, grid_h):
        """Repeats each ground truth for the two neighbouring cells nearest its centre (YOLOv5's assignment).

        The horizontal neighbour is the cell left of the centre's cell when the centre lies in its left half,
        else the right one; the vertical one likewise; a neighbour outside the grid is not valid. Returns the
        arguments ``[B, 3N, ...]`` in the order vertical neighbours, horizontal neighbours, centre cells, so
        that where two ground truths claim one prediction the centre cell's claim wins (the later row wins).
        """
        step_x = tf.where(centre_x - cols < 0.5, -1.0, 1.0)
        step_y = tf.where(centre_y - rows < 0.5, -1.0, 1.0)
        neighbour_cols, neighbour_rows = cols + step_x, rows + step_y
        inside_x = (neighbour_cols >= 0.0) & (neighbour_cols <= grid_w - 1.0)
        inside_y = (neighbour_rows >= 0.0) & (neighbour_rows <= grid_h - 1.0)

        def three(values):
            return tf.concat([values] * 3, axis=1)

        return (three(gt_boxes), tf.concat([valid & inside_y, valid & inside_x, valid], axis=1),
                three(centre_x), three(centre_y), tf.concat([neighbour_rows, rows, rows], axis=1),
                tf.concat([cols, neighbour_cols, cols], axis=1))

    def chosen_anchors(self, shape_iou):
        """``[..., A]`` bool: the best-matching anchor, and with ``assign_iou_threshold`` every anchor whose
        shape IoU reaches it."""
        best = tf.one_hot(tf.argmax(shape_iou, axis=-1), self.num_anchors, on_value=True, off_value=False)
        if self.assign_iou_threshold is None:
            return best
        return best | (shape_iou >= self.assign_iou_threshold)

    def _scatter(self, kept, positions, values, grid_size):
        """Scatters ``values`` ``[B, N, 11]`` of the kept ground truths to their ``positions`` (row, col, anchor)."""
        where = tf.where(kept)  # [K, 2]: image, row of gt_boxes
        indices = tf.concat([tf.cast(where[:, :1], tf.int32), tf.gather_nd(positions, where)], axis=-1)
        shape = tf.concat([tf.shape(kept)[:1], grid_size, [self.num_anchors, values.shape[-1]]], axis=0)
        dense = tf.scatter_nd(indices, tf.gather_nd(values, where), shape)
        return YoloTargets(mask=dense[..., 0], offsets=dense[..., 1:3], log_sizes=dense[..., 3:5],
                           coordinate_weights=dense[..., 5], class_ids=tf.cast(dense[..., 6], tf.int32),
                           boxes=dense[..., 7:11])

    def box_error(self, prediction, targets):
        """Per-prediction box error: squared offset and log-size errors (``mse``) or ``1 - CIoU`` (``ciou``)."""
        if self.box_loss == "ciou":
            return 1.0 - tf_ciou_xywh_aligned(prediction.boxes, targets.boxes)
        return _squared(prediction.offsets - targets.offsets) + _squared(prediction.log_sizes - targets.log_sizes)

    def objectness_errors(self, prediction, targets):
        """Per-prediction errors towards :math:`\\hat o` and towards 0: squared on the score (``mse``) or the
        binary cross-entropy of the logit (``bce``)."""
        target = self.object_target(prediction, targets)
        if self.objectness_loss == "bce":
            logits = prediction.object_logits
            return (tf.nn.sigmoid_cross_entropy_with_logits(labels=target, logits=logits),
                    tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.zeros_like(logits), logits=logits))
        scores = tf.sigmoid(prediction.object_logits)
        return tf.square(scores - target), tf.square(scores)

    def coordinate_weights(self, widths, heights):
        """:math:`s = 2 - w h / (W H)` of pixel sizes (1 when ``size_weighting`` is off)."""
        if not self.size_weighting:
            return tf.ones_like(widths)
        height, width = self.image_size
        return 2.0 - widths * heights / (width * height)

    def object_target(self, prediction, targets):
        """:math:`\\hat o`: IoU of each predicted box with its ground truth (gradient stopped), or 1."""
        if not self.rescore:
            return targets.mask
        return tf.stop_gradient(tf_iou_xywh_aligned(prediction.boxes, targets.boxes)) * targets.mask

    def no_object_weight(self, prediction, gt_boxes):
        """1 where a predicted box overlaps no valid ground truth of its image by more than ``iou_threshold``."""
        return tf.cast(self.best_gt_iou(prediction.boxes, gt_boxes) <= self.iou_threshold, tf.float32)

    @staticmethod
    def best_gt_iou(boxes, gt_boxes):
        """``[B, gh, gw, A]`` highest IoU of each predicted box with a valid ground truth of its image (0 if none)."""
        gt_boxes = tf.cast(gt_boxes, tf.float32)
        valid = (gt_boxes[..., 4] >= 0) & (gt_boxes[..., 2] > 0) & (gt_boxes[..., 3] > 0)
        shape = tf.shape(boxes)
        iou = tf_iou_xywh(tf.reshape(boxes, [shape[0], -1, 4]), gt_boxes[..., :4])  # [B, P, N]
        iou = tf.where(valid[:, None, :], iou, tf.zeros_like(iou))
        best = tf.reduce_max(tf.concat([iou, tf.zeros_like(iou[..., :1])], axis=-1), axis=-1)
        return tf.stop_gradient(tf.reshape(best, shape[:4]))

    def warmup_factor(self, step):
        """1.0 while ``step < warmup_steps``, else 0.0 (always 0.0 when ``step`` is ``None``)."""
        if step is None or self.warmup_steps <= 0:
            return tf.constant(0.0)
        step = tf.convert_to_tensor(step)
        return tf.cast(step < tf.cast(self.warmup_steps, step.dtype), tf.float32)

    def diagnostics(self, gt_boxes, outputs):
        """Per-image diagnostics of the assignment, each ``[B]``.

        Returns:
            ``{"average_iou", "object_score", "no_object_score"}``: the mean IoU of the responsible
            predictions with their ground truths, the mean objectness of the responsible predictions
            (both 0 for an image without ground truth) and the mean objectness of all the others.
        """
        prediction = self.decode(outputs)
        targets = self.build_targets(gt_boxes, tf.shape(prediction.object_logits)[1:3])
        mask = targets.mask
        scores = tf.sigmoid(prediction.object_logits)
        iou = tf_iou_xywh_aligned(prediction.boxes, targets.boxes)
        positives, negatives = _image_sum(mask), _image_sum(1.0 - mask)
        return {
            "average_iou": tf.math.divide_no_nan(_image_sum(mask * iou), positives),
            "object_score": tf.math.divide_no_nan(_image_sum(mask * scores), positives),
            "no_object_score": tf.math.divide_no_nan(_image_sum((1.0 - mask) * scores), negatives),
        }


#: The decoded centre margin (cells) with neighbour-cell assignment: a neighbour's prediction reaches the centre.
NEIGHBOUR_CENTRE_MARGIN = 0.5
#: Values of ``box_loss`` and ``objectness_loss``.
BOX_LOSSES = ("mse", "ciou")
OBJECTNESS_LOSSES = ("mse", "bce")


def _choice(name, value, allowed):
    if value not in allowed:
        raise ValueError(f"{name}: expected one of {', '.join(allowed)}, got {value!r}")
    return value


def _squared(difference):
    """Sum of squares over the last axis."""
    return tf.reduce_sum(tf.square(difference), axis=-1)


def _image_sum(values):
    """Sums ``[B, gh, gw, A]`` values per image."""
    return tf.reduce_sum(values, axis=[1, 2, 3])


def _grid_floats(grid_size):
    """``(gh, gw)`` as float32 scalars."""
    grid_size = tf.cast(grid_size, tf.float32)
    return grid_size[0], grid_size[1]
