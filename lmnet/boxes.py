"""Bounding boxes: format conversions, geometry, IoU and padded ground-truth arrays.

This module is the one place for box math. Every function names its box format:

* ``xywh``: ``(x, y, w, h)``, the top-left corner and the size, in pixels of the image the box
  belongs to (the project's data conventions). Coordinates are pixel edges: a box covering pixel columns 0 to 9
  has ``x = 0`` and ``w = 10``, and an image of width ``W`` spans ``0 <= x <= x + w <= W``.
* ``xyxy``: ``(x_min, y_min, x_max, y_max)``, the top-left and bottom-right corners.
* ``cxcywh``: ``(center_x, center_y, w, h)`` (YOLO label files);
* ``voc``: PASCAL VOC's 1-based, inclusive pixel indices ``(xmin, ymin, xmax, ymax)``.

Boxes are arrays whose last axis holds the four coordinates; any leading (batch) dimensions are
allowed. Columns after the fourth (a class id, a score) are copied through unchanged by the
coordinate functions, so ``xywh_to_xyxy`` works on ground-truth rows ``(x, y, w, h, class_id)``
as well. Floating inputs keep their dtype; other inputs are computed as ``float64``. Widths and
heights are assumed non-negative; a negative size counts as zero in areas, clipping and IoU.

A ground-truth array ``gt_boxes`` is ``float32 [..., max_boxes, 5]`` with rows
``(x, y, w, h, class_id)``, padded with rows whose ``class_id`` is ``-1``. The ``*_gt_boxes``
functions keep the array length, return ``float32`` and only move valid rows; rows they remove
become canonical padding rows ``[0, 0, 0, 0, -1]`` placed after the valid rows. They compute in
``float64`` and round once to ``float32``, so a box on the image border may end a float32 rounding
step (about ``1e-5`` pixel for images of a few hundred pixels) beyond it.

The ``tf_*`` functions are TensorFlow twins for graphs (losses, metrics); TensorFlow is imported
only when one of them is called.
"""
import numpy as np

GT_BOXES_KEY = "gt_boxes"
PADDING_CLASS_ID = -1
PADDING_ROW = (0, 0, 0, 0, PADDING_CLASS_ID)


# Formats --------------------------------------------------------------------------------------


def _floating(boxes):
    """``boxes`` as an array with at least four columns, floating (``float64`` unless already float)."""
    boxes = np.asarray(boxes)
    if boxes.ndim < 1 or boxes.shape[-1] < 4:
        raise ValueError(f"boxes must have shape (..., 4) or more columns, got {boxes.shape}")
    return boxes if np.issubdtype(boxes.dtype, np.floating) else boxes.astype(np.float64)


def _columns(boxes):
    """The four coordinate columns of ``boxes``."""
    return boxes[..., 0], boxes[..., 1], boxes[..., 2], boxes[..., 3]


def _assemble(boxes, first, second, third, fourth):
    """Stacks four new coordinate columns, in ``boxes``' dtype, followed by its extra columns."""
    coordinates = np.stack(np.broadcast_arrays(first, second, third, fourth), axis=-1).astype(boxes.dtype, copy=False)
    if boxes.shape[-1] == 4:
        return coordinates
    extra = np.broadcast_to(boxes[..., 4:], coordinates.shape[:-1] + (boxes.shape[-1] - 4,))
    return np.concatenate([coordinates, extra], axis=-1)


def xywh_to_xyxy(boxes):
    """Converts ``(x, y, w, h)`` boxes to corners ``(x_min, y_min, x_max, y_max)`` as a new array of the same shape."""
    boxes = _floating(boxes)
    x, y, w, h = _columns(boxes)
    return _assemble(boxes, x, y, x + w, y + h)


def xyxy_to_xywh(boxes):
    """Converts corners ``(x_min, y_min, x_max, y_max)`` to ``(x, y, w, h)`` boxes as a new array of the same shape."""
    boxes = _floating(boxes)
    x_min, y_min, x_max, y_max = _columns(boxes)
    return _assemble(boxes, x_min, y_min, x_max - x_min, y_max - y_min)


def cxcywh_to_xywh(boxes):
    """Converts ``(center_x, center_y, w, h)`` boxes to ``(x, y, w, h)`` as a new array of the same shape."""
    boxes = _floating(boxes)
    center_x, center_y, w, h = _columns(boxes)
    return _assemble(boxes, center_x - w / 2, center_y - h / 2, w, h)


def voc_to_xywh(x_min, y_min, x_max, y_max):
    """PASCAL VOC's ``<bndbox>`` (1-based, inclusive pixel indices) as a pixel-edge ``[x, y, w, h]`` list.

    A box over pixel columns 1 to 10 of VOC's numbering is ``x = 0, w = 10``.
    """
    return [x_min - 1.0, y_min - 1.0, x_max - x_min + 1.0, y_max - y_min + 1.0]


def xywh_to_voc(x, y, w, h):
    """The inverse of :func:`voc_to_xywh` for whole-pixel boxes: ``(xmin, ymin, xmax, ymax)`` as VOC writes them."""
    return x + 1, y + 1, x + w, y + h


# Geometry -------------------------------------------------------------------------------------


def area_xywh(boxes):
    """Areas of ``(x, y, w, h)`` boxes (negative sizes count as zero).

    Args:
        boxes: ``[..., 4]`` array.

    Returns:
        ``[...]`` array of areas.
    """
    boxes = _floating(boxes)
    return np.maximum(boxes[..., 2], 0) * np.maximum(boxes[..., 3], 0)


def clip_xywh(boxes, image_size):
    """Clips ``(x, y, w, h)`` boxes to an image: the result is the part of each box inside it.

    A box entirely outside the image becomes a zero-width or zero-height box on its border.

    Args:
        boxes: ``[..., 4]`` array (extra columns are copied through).
        image_size: ``(height, width)`` of the image.

    Returns:
        A new array of the same shape with ``0 <= x <= x + w <= width`` and likewise for ``y``.
    """
    boxes = _floating(boxes)
    height, width = image_size
    x, y, w, h = _columns(boxes)
    x_min, y_min = np.clip(x, 0, width), np.clip(y, 0, height)
    x_max, y_max = np.clip(x + np.maximum(w, 0), 0, width), np.clip(y + np.maximum(h, 0), 0, height)
    return _assemble(boxes, x_min, y_min, x_max - x_min, y_max - y_min)


def shift_xywh(boxes, dx, dy):
    """Moves ``(x, y, w, h)`` boxes by ``(dx, dy)`` pixels.

    Args:
        boxes: ``[..., 4]`` array (extra columns are copied through).
        dx: added to ``x``.
        dy: added to ``y``.

    Returns:
        A new array of the same shape.
    """
    boxes = _floating(boxes)
    x, y, w, h = _columns(boxes)
    return _assemble(boxes, x + dx, y + dy, w, h)


def scale_xywh(boxes, scale_x, scale_y):
    """Scales ``(x, y, w, h)`` boxes about the image origin, as when the image is resized.

    Args:
        boxes: ``[..., 4]`` array (extra columns are copied through).
        scale_x: factor of ``x`` and ``w`` (new width / old width).
        scale_y: factor of ``y`` and ``h`` (new height / old height).

    Returns:
        A new array of the same shape.
    """
    boxes = _floating(boxes)
    x, y, w, h = _columns(boxes)
    return _assemble(boxes, x * scale_x, y * scale_y, w * scale_x, h * scale_y)


def flip_left_right_xywh(boxes, width):
    """Mirrors ``(x, y, w, h)`` boxes across the vertical centre line of an image of ``width`` pixels.

    Returns:
        A new array of the same shape (extra columns copied through) with ``x`` replaced by ``width - x - w``.
    """
    return _mirror(boxes, width, axis=0)


def flip_top_bottom_xywh(boxes, height):
    """Mirrors ``(x, y, w, h)`` boxes across the horizontal centre line of an image of ``height`` pixels.

    Returns:
        A new array of the same shape (extra columns copied through) with ``y`` replaced by ``height - y - h``.
    """
    return _mirror(boxes, height, axis=1)


def _mirror(boxes, extent, axis):
    """Replaces coordinate ``axis`` (0: x, 1: y) by ``extent - position - size``."""
    boxes = _floating(boxes)
    columns = list(_columns(boxes))
    columns[axis] = extent - columns[axis] - columns[axis + 2]
    return _assemble(boxes, *columns)


def centers_inside_xywh(boxes, window):
    """Which boxes have their centre strictly inside a window.

    A centre exactly on the window's border counts as outside, so that a kept box always keeps a
    positive width and height when it is clipped to the window.

    Args:
        boxes: ``[..., 4]`` array of ``(x, y, w, h)``.
        window: ``(x, y, w, h)`` of the window, or an array of windows broadcastable with ``boxes``.

    Returns:
        ``bool [...]``: ``left < center_x < left + width`` and ``top < center_y < top + height``.
    """
    boxes = _floating(boxes).astype(np.float64, copy=False)
    window = np.asarray(window, dtype=np.float64)
    center_x = boxes[..., 0] + boxes[..., 2] / 2
    center_y = boxes[..., 1] + boxes[..., 3] / 2
    left, top, width, height = _columns(window)
    return (left < center_x) & (center_x < left + width) & (top < center_y) & (center_y < top + height)


# IoU ------------------------------------------------------------------------------------------


def iou_xywh_aligned(a, b):
    """Intersection over union of ``(x, y, w, h)`` boxes taken element-wise.

    Boxes without area, or pairs whose union is empty, have IoU 0.

    Args:
        a: ``[..., 4]`` array.
        b: ``[..., 4]`` array broadcastable with ``a``.

    Returns:
        ``[...]`` array (the broadcast shape without the last axis) of values in ``[0, 1]``.
    """
    a, b = _floating(a), _floating(b)
    a_x, a_y, a_w, a_h = _columns(a)
    b_x, b_y, b_w, b_h = _columns(b)
    overlap_w = np.minimum(a_x + np.maximum(a_w, 0), b_x + np.maximum(b_w, 0)) - np.maximum(a_x, b_x)
    overlap_h = np.minimum(a_y + np.maximum(a_h, 0), b_y + np.maximum(b_h, 0)) - np.maximum(a_y, b_y)
    intersection = np.maximum(overlap_w, 0) * np.maximum(overlap_h, 0)
    union = area_xywh(a) + area_xywh(b) - intersection
    positive = union > 0
    return np.where(positive, intersection / np.where(positive, union, 1), 0)


def iou_xywh(a, b):
    """Pairwise intersection over union of two sets of ``(x, y, w, h)`` boxes.

    Args:
        a: ``[..., N, 4]`` array.
        b: ``[..., M, 4]`` array; leading dimensions broadcast with ``a``'s.

    Returns:
        ``[..., N, M]`` array: entry ``[..., i, j]`` is the IoU of ``a[..., i, :]`` and ``b[..., j, :]``.
    """
    a, b = _floating(a), _floating(b)
    if a.ndim < 2 or b.ndim < 2:
        raise ValueError(f"iou_xywh needs [..., N, 4] and [..., M, 4] arrays, got {a.shape} and {b.shape}")
    return iou_xywh_aligned(a[..., :, None, :4], b[..., None, :, :4])


# Ground-truth arrays --------------------------------------------------------------------------


def as_gt_boxes(gt_boxes):
    """Validates a ground-truth array and returns it as ``float32`` (the input itself if it already is).

    Args:
        gt_boxes: ``[..., max_boxes, 5]`` array-like of rows ``(x, y, w, h, class_id)``.

    Returns:
        The ``float32`` array.

    Raises:
        ValueError: the shape is not ``[..., max_boxes, 5]``.
    """
    gt_boxes = np.asarray(gt_boxes, dtype=np.float32)
    if gt_boxes.ndim < 2 or gt_boxes.shape[-1] != 5:
        raise ValueError(f"gt_boxes must have shape (..., max_boxes, 5) as rows (x, y, w, h, class_id), "
                         f"got {gt_boxes.shape}")
    return gt_boxes


def valid_rows(gt_boxes):
    """Which rows of a ground-truth array are boxes rather than padding.

    Args:
        gt_boxes: ``[..., max_boxes, 5]`` array.

    Returns:
        ``bool [..., max_boxes]``: ``class_id != -1``.
    """
    return as_gt_boxes(gt_boxes)[..., 4] != PADDING_CLASS_ID


def compact_gt_boxes(gt_boxes):
    """Moves the valid rows first (in their order) and makes every other row ``[0, 0, 0, 0, -1]``.

    Args:
        gt_boxes: ``[..., max_boxes, 5]`` array.

    Returns:
        A new ``float32`` array of the same shape.
    """
    gt_boxes = as_gt_boxes(gt_boxes)
    valid = valid_rows(gt_boxes)
    order = np.argsort(~valid, axis=-1, kind="stable")
    compact = np.take_along_axis(gt_boxes, order[..., None], axis=-2)
    compact[~np.take_along_axis(valid, order, axis=-1)] = PADDING_ROW
    return compact


def keep_gt_boxes(gt_boxes, keep):
    """Keeps the valid rows where ``keep`` is true; the others become padding after them.

    Args:
        gt_boxes: ``[..., max_boxes, 5]`` array.
        keep: ``bool`` array broadcastable to ``[..., max_boxes]``.

    Returns:
        A new compact ``float32`` array of the same shape (see :func:`compact_gt_boxes`).
    """
    gt_boxes = np.array(as_gt_boxes(gt_boxes), copy=True)
    gt_boxes[~np.broadcast_to(keep, gt_boxes.shape[:-1])] = PADDING_ROW
    return compact_gt_boxes(gt_boxes)


def map_valid_boxes(gt_boxes, function, *args, **kwargs):
    """Applies a coordinate function to the valid rows of a ground-truth array.

    Args:
        gt_boxes: ``[..., max_boxes, 5]`` array.
        function: takes ``[..., 4]`` ``float64`` ``(x, y, w, h)`` boxes (and ``args``, ``kwargs``)
            and returns boxes of the same shape, e.g. :func:`shift_xywh`.
        *args: passed to ``function`` after the boxes.
        **kwargs: passed to ``function``.

    Returns:
        A new ``float32`` array: valid rows carry the new coordinates and their class ids, padding
        rows are unchanged.
    """
    gt_boxes = as_gt_boxes(gt_boxes)
    moved = np.asarray(function(gt_boxes[..., :4].astype(np.float64), *args, **kwargs))
    result = np.array(gt_boxes, copy=True)
    result[..., :4] = np.where(valid_rows(gt_boxes)[..., None], moved, gt_boxes[..., :4])
    return result


def resize_gt_boxes(gt_boxes, from_size, to_size):
    """Scales ground-truth boxes from an image of ``from_size`` to the same image resized to ``to_size``.

    Args:
        gt_boxes: ``[..., max_boxes, 5]`` array.
        from_size: ``(height, width)`` of the image the boxes belong to.
        to_size: ``(height, width)`` of the resized image.

    Returns:
        A new ``float32`` array: valid rows scaled by ``(to_width / from_width, to_height /
        from_height)`` and clipped to ``to_size`` (which only absorbs rounding for boxes that were
        inside the image); padding rows unchanged.
    """
    (from_height, from_width), (to_height, to_width) = from_size, to_size
    return map_valid_boxes(gt_boxes, _scale_and_clip, to_width / from_width, to_height / from_height, to_size)


def _scale_and_clip(boxes, scale_x, scale_y, image_size):
    """Scales boxes, then clips them to ``image_size``."""
    return clip_xywh(scale_xywh(boxes, scale_x, scale_y), image_size)


def crop_gt_boxes(gt_boxes, window):
    """Ground-truth boxes of a crop: keeps the boxes whose centre is strictly inside ``window``.

    Kept boxes are clipped to the window and moved into its coordinates; the others are dropped
    (their rows become padding after the kept ones).

    Args:
        gt_boxes: ``[..., max_boxes, 5]`` array.
        window: ``(x, y, w, h)`` of the crop in the image's pixels.

    Returns:
        A new compact ``float32`` array of the same shape.
    """
    gt_boxes = as_gt_boxes(gt_boxes)
    left, top, width, height = window
    keep = valid_rows(gt_boxes) & centers_inside_xywh(gt_boxes, window)
    moved = map_valid_boxes(gt_boxes, _shift_and_clip, -left, -top, (height, width))
    return keep_gt_boxes(moved, keep)


def _shift_and_clip(boxes, dx, dy, image_size):
    """Moves boxes by ``(dx, dy)``, then clips them to ``image_size``."""
    return clip_xywh(shift_xywh(boxes, dx, dy), image_size)


# TensorFlow twins -----------------------------------------------------------------------------


def _tf():
    """The ``tensorflow`` module, imported on first use."""
    import tensorflow
    return tensorflow


def _tf_floating(boxes, like=None):
    """``boxes`` as a floating tensor: ``like``'s dtype if given, its own if floating, else ``float32``."""
    tf = _tf()
    boxes = tf.convert_to_tensor(boxes)
    dtype = like.dtype if like is not None else (boxes.dtype if boxes.dtype.is_floating else tf.float32)
    return tf.cast(boxes, dtype)


def _tf_assemble(boxes, first, second, third, fourth):
    """Stacks four coordinate tensors followed by ``boxes``' extra columns."""
    tf = _tf()
    return tf.concat([tf.stack([first, second, third, fourth], axis=-1), boxes[..., 4:]], axis=-1)


def tf_iou_xywh_aligned(a, b):
    """TensorFlow twin of :func:`iou_xywh_aligned`: element-wise IoU of broadcastable box tensors.

    Pairs with an empty union have IoU 0 (and a zero, not NaN, gradient).

    Args:
        a: ``[..., 4]`` tensor of ``(x, y, w, h)``; non-float becomes ``float32``.
        b: ``[..., 4]`` tensor broadcastable with ``a``; cast to ``a``'s dtype.

    Returns:
        ``[...]`` tensor of values in ``[0, 1]``.
    """
    tf = _tf()
    a = _tf_floating(a)
    b = _tf_floating(b, like=a)
    a_w, a_h = tf.maximum(a[..., 2], 0), tf.maximum(a[..., 3], 0)
    b_w, b_h = tf.maximum(b[..., 2], 0), tf.maximum(b[..., 3], 0)
    overlap_w = tf.minimum(a[..., 0] + a_w, b[..., 0] + b_w) - tf.maximum(a[..., 0], b[..., 0])
    overlap_h = tf.minimum(a[..., 1] + a_h, b[..., 1] + b_h) - tf.maximum(a[..., 1], b[..., 1])
    intersection = tf.maximum(overlap_w, 0) * tf.maximum(overlap_h, 0)
    union = a_w * a_h + b_w * b_h - intersection
    return tf.math.divide_no_nan(intersection, union)


def tf_ciou_xywh_aligned(a, b):
    r"""Element-wise complete IoU (CIoU, Zheng et al. 2020) of broadcastable box tensors, for box losses.

    .. math::

        \mathrm{CIoU} = \mathrm{IoU} - \frac{\rho^2}{c^2} - \alpha v,\quad
        v = \frac{4}{\pi^2}\left(\arctan\frac{w_b}{h_b} - \arctan\frac{w_a}{h_a}\right)^2,\quad
        \alpha = \frac{v}{1 - \mathrm{IoU} + v}

    with :math:`\rho` the distance of the centres and :math:`c` the diagonal of the smallest box
    enclosing both; :math:`\alpha` is treated as a constant (no gradient), as the paper does. In
    ``[-1, 1]``; 1 for identical boxes. Degenerate pairs (an empty enclosing box) give the IoU.

    Args:
        a: ``[..., 4]`` predicted ``(x, y, w, h)``.
        b: ``[..., 4]`` target ``(x, y, w, h)``, broadcastable with ``a``.

    Returns:
        ``[...]`` tensor.
    """
    tf = _tf()
    a = _tf_floating(a)
    b = _tf_floating(b, like=a)
    iou = tf_iou_xywh_aligned(a, b)
    a_w, a_h = tf.maximum(a[..., 2], 0), tf.maximum(a[..., 3], 0)
    b_w, b_h = tf.maximum(b[..., 2], 0), tf.maximum(b[..., 3], 0)
    enclosing_w = tf.maximum(a[..., 0] + a_w, b[..., 0] + b_w) - tf.minimum(a[..., 0], b[..., 0])
    enclosing_h = tf.maximum(a[..., 1] + a_h, b[..., 1] + b_h) - tf.minimum(a[..., 1], b[..., 1])
    diagonal = tf.square(enclosing_w) + tf.square(enclosing_h)
    distance = (tf.square(a[..., 0] + a_w / 2 - b[..., 0] - b_w / 2)
                + tf.square(a[..., 1] + a_h / 2 - b[..., 1] - b_h / 2))
    angle_a, angle_b = tf.atan(tf.math.divide_no_nan(a_w, a_h)), tf.atan(tf.math.divide_no_nan(b_w, b_h))
    aspect = (4 / np.pi ** 2) * tf.square(angle_b - angle_a)
    alpha = tf.stop_gradient(tf.math.divide_no_nan(aspect, 1 - iou + aspect))
    return iou - tf.math.divide_no_nan(distance, diagonal) - alpha * aspect


def tf_iou_xywh(a, b):
    """TensorFlow twin of :func:`iou_xywh`: pairwise IoU.

    Args:
        a: ``[..., N, 4]`` tensor of ``(x, y, w, h)``.
        b: ``[..., M, 4]`` tensor; leading dimensions broadcast with ``a``'s.

    Returns:
        ``[..., N, M]`` tensor.
    """
    a = _tf_floating(a)
    b = _tf_floating(b, like=a)
    return tf_iou_xywh_aligned(a[..., :, None, :4], b[..., None, :, :4])


# ------------------------------------------------------------------ predicted boxes [batch, num_boxes, 6]

#: The padding row of predicted boxes ``(x, y, w, h, class_id, score)`` (class id ``-1``, always after the real rows).
PREDICTION_PADDING_ROW = (0.0, 0.0, 0.0, 0.0, float(PADDING_CLASS_ID), 0.0)


def valid_boxes(boxes):
    """Drops the padding rows of one image's ``[N, 6]`` predicted boxes.

    Args:
        boxes: ``[N, 6]`` rows ``(x, y, w, h, class_id, score)``.

    Returns:
        The rows whose ``class_id >= 0``, in their order.
    """
    boxes = np.asarray(boxes)
    return boxes[boxes[:, 4] >= 0]


def padding_rows(count, dtype=np.float32):
    """Returns ``[count, 6]`` padding rows ``(0, 0, 0, 0, -1, 0)``."""
    rows = np.zeros((count, 6), dtype)
    rows[:, 4] = PADDING_CLASS_ID
    return rows


def check_prediction_rows(outputs, name):
    """Returns ``outputs`` as an array, raising ``ValueError`` unless it is ``[batch, num_boxes, 6]``."""
    outputs = np.asarray(outputs)
    if outputs.ndim != 3 or outputs.shape[2] != 6:
        raise ValueError(f"{name}: expected boxes [batch, num_boxes, 6], got shape {outputs.shape}")
    return outputs
