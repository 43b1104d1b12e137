"""The channel layout of a YOLOv2 raw output, in one place.

The last convolution of a YOLO detector writes ``A·(C + 5)`` channels per grid cell (``A``
anchors, ``C`` classes). The ``C + 5`` channels of anchor ``a`` start at channel ``a·(C + 5)`` and
hold, in upstream Blueoil's order (which its Python and C++ runtimes decode):

=========================  ===============================================
channel within the anchor  value
=========================  ===============================================
``0 … C−1``                class logits
``C``                      objectness (confidence) logit ``to``
``C + 1``, ``C + 2``       ``tx``, ``ty``: centre offsets (before sigmoid)
``C + 3``, ``C + 4``       ``tw``, ``th``: log size scales
=========================  ===============================================

Darknet's region layer writes ``tx, ty, tw, th, to`` first and the class logits after them;
:func:`darknet_permutation` maps one order onto the other.

**Decoding** is written once, in :func:`decode`, for NumPy arrays (:data:`NUMPY`, the standalone
runtime's path, which never imports TensorFlow) and TensorFlow tensors (:data:`TENSORFLOW`, the loss
and the in-graph post-processor). For the cell at ``(row, col)`` of a ``gh × gw`` grid, anchor
``(aw, ah)`` in grid cells, and a network input of ``H × W`` pixels::

    cx = (col + sigmoid(tx)) / gw · W        w = aw · exp(tw) / gw · W      x = cx − w/2
    cy = (row + sigmoid(ty)) / gh · H        h = ah · exp(th) / gh · H      y = cy − h/2
    score_c = sigmoid(to) · softmax(class logits)_c

with ``tw, th`` clipped to ``±`` :data:`MAX_LOG_SCALE` before ``exp`` (a box at most about 22,000
anchors wide, never infinite). A network trained with neighbour-cell assignment decodes its centres with a
margin ``m`` (``centre_margin``, 0.5): ``sigmoid(tx)`` becomes ``(1 + 2m)·sigmoid(tx) − m``, so a centre may lie
half a cell beyond its own cell.
"""
import collections

import numpy as np

#: Channels of one anchor besides the class logits: objectness, tx, ty, tw, th.
BOX_CHANNELS = 5

#: One anchor's raw values split by meaning, each ``[..., k]`` of the input's leading axes.
AnchorChannels = collections.namedtuple("AnchorChannels", ["class_logits", "object_logit", "offsets", "log_sizes"])


def channels_per_anchor(num_classes):
    """``C + 5``."""
    return int(num_classes) + BOX_CHANNELS


def output_channels(num_anchors, num_classes):
    """``A·(C + 5)``, the raw output's channel count."""
    return int(num_anchors) * channels_per_anchor(num_classes)


def split_anchor_channels(values, num_classes):
    """Splits per-anchor raw values ``[..., C + 5]`` by meaning (see the module table).

    Args:
        values: a NumPy array or a TensorFlow tensor whose last axis is one anchor's ``C + 5`` channels.
        num_classes: ``C``.

    Returns:
        An :data:`AnchorChannels`: ``class_logits`` ``[..., C]``, ``object_logit`` ``[...]``,
        ``offsets`` ``[..., 2]`` (``tx, ty``) and ``log_sizes`` ``[..., 2]`` (``tw, th``).
    """
    c = int(num_classes)
    return AnchorChannels(class_logits=values[..., :c], object_logit=values[..., c],
                          offsets=values[..., c + 1:c + 3], log_sizes=values[..., c + 3:c + 5])


def darknet_permutation(num_anchors, num_classes):
    """Output channel ``i`` of lmnet's layout takes Darknet's channel ``permutation[i]``.

    Darknet's region layer orders each anchor's channels ``tx, ty, tw, th, to, classes…``; apply
    the result to the last axis of Darknet's last-layer kernel and bias.

    Args:
        num_anchors: ``A``.
        num_classes: ``C``.

    Returns:
        An ``int64`` array of ``A·(C + 5)`` indices.
    """
    c = int(num_classes)
    within = np.concatenate([np.arange(BOX_CHANNELS, BOX_CHANNELS + c), [4, 0, 1, 2, 3]])
    per_anchor = channels_per_anchor(c)
    return np.concatenate([a * per_anchor + within for a in range(int(num_anchors))]).astype(np.int64)


#: ``tw, th`` are clipped to this magnitude before ``exp``.
MAX_LOG_SCALE = 10.0

#: A decoded raw output, each ``[B, gh, gw, A, ...]``: ``offsets`` ``[..., 2]`` = ``sigmoid(tx), sigmoid(ty)``,
#: ``log_sizes`` ``[..., 2]`` = ``tw, th``, ``object_logits`` ``[...]``, ``class_logits`` ``[..., C]`` and
#: ``boxes`` ``[..., 4]`` ``(x, y, w, h)`` in pixels of the network input.
Decoded = collections.namedtuple("Decoded", ["offsets", "log_sizes", "object_logits", "class_logits", "boxes"])


class _NumpyOps:
    """The array operations of :func:`decode` on float32 NumPy arrays."""

    exp, clip, stack = staticmethod(np.exp), staticmethod(np.clip), staticmethod(np.stack)

    @staticmethod
    def as_float(values):
        return np.asarray(values, np.float32)

    @staticmethod
    def shape(values):
        return values.shape

    @staticmethod
    def reshape(values, leading, trailing):
        return values.reshape(*leading, *trailing)

    @staticmethod
    def count_floats(count):
        """``0, 1, …, count − 1`` and ``count`` as float32."""
        return np.arange(count, dtype=np.float32), np.float32(count)

    @staticmethod
    def sigmoid(x):
        """``1 / (1 + exp(-x))`` written as ``(1 + tanh(x / 2)) / 2``, which never overflows."""
        return np.float32(0.5) * (np.float32(1) + np.tanh(np.float32(0.5) * x))

    @staticmethod
    def softmax(x):
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)


class _TensorFlowOps:
    """The array operations of :func:`decode` on float32 TensorFlow tensors (graph-compatible).

    TensorFlow is imported on first use (the NumPy path runs without it), and the table built once.
    """

    _ops = None

    def __getattr__(self, name):
        if _TensorFlowOps._ops is None:
            import tensorflow as tf
            _TensorFlowOps._ops = {
                "exp": tf.exp, "clip": tf.clip_by_value, "stack": tf.stack, "shape": tf.shape,
                "sigmoid": tf.sigmoid, "softmax": tf.nn.softmax,
                "as_float": lambda values: tf.cast(values, tf.float32),
                "reshape": lambda values, leading, trailing: tf.reshape(values, [*leading, *trailing]),
                "count_floats": lambda count: (tf.cast(tf.range(count), tf.float32), tf.cast(count, tf.float32))}
        if name not in _TensorFlowOps._ops:
            raise AttributeError(name)
        return _TensorFlowOps._ops[name]


#: Array operations for :func:`decode`: NumPy, or TensorFlow.
NUMPY, TENSORFLOW = _NumpyOps(), _TensorFlowOps()


def decode(outputs, anchors, num_classes, image_size, ops, centre_margin=0.0):
    """Decodes a raw YOLO output (see the module's formulas).

    Args:
        outputs: ``[B, gh, gw, A·(C + 5)]`` raw output (NHWC).
        anchors: ``A`` pairs ``(aw, ah)`` in grid cells.
        num_classes: ``C``.
        image_size: ``(H, W)`` of the network input in pixels.
        ops: :data:`NUMPY` or :data:`TENSORFLOW`, matching ``outputs``.
        centre_margin: :math:`m`, how far (in cells) a predicted centre may lie outside its cell: the
            offsets are ``(1 + 2m)·sigmoid(t) − m`` (0, YOLOv2's and Blueoil's decoding, keeps them inside).

    Returns:
        A :data:`Decoded`.
    """
    outputs = ops.as_float(outputs)
    shape = ops.shape(outputs)
    raw = ops.reshape(outputs, [shape[0], shape[1], shape[2]], [len(anchors), channels_per_anchor(num_classes)])
    channels = split_anchor_channels(raw, num_classes)
    offsets = ops.sigmoid(channels.offsets)
    if centre_margin:
        offsets = offsets * (1.0 + 2.0 * centre_margin) - centre_margin
    return Decoded(offsets=offsets, log_sizes=channels.log_sizes, object_logits=channels.object_logit,
                   class_logits=channels.class_logits,
                   boxes=decode_boxes(offsets, channels.log_sizes, anchors, image_size, ops))


def decode_boxes(offsets, log_sizes, anchors, image_size, ops):
    """``(x, y, w, h)`` pixel boxes ``[B, gh, gw, A, 4]`` of ``sigmoid(tx, ty)`` and ``tw, th`` (each ``[..., 2]``)."""
    shape = ops.shape(offsets)
    rows, grid_h = ops.count_floats(shape[1])
    cols, grid_w = ops.count_floats(shape[2])
    height, width = (float(size) for size in image_size)
    sizes = ops.as_float(anchors) * ops.exp(ops.clip(log_sizes, -MAX_LOG_SCALE, MAX_LOG_SCALE))
    box_w = sizes[..., 0] / grid_w * width
    box_h = sizes[..., 1] / grid_h * height
    centre_x = (cols[None, None, :, None] + offsets[..., 0]) / grid_w * width
    centre_y = (rows[None, :, None, None] + offsets[..., 1]) / grid_h * height
    return ops.stack([centre_x - box_w / 2, centre_y - box_h / 2, box_w, box_h], axis=-1)


def class_scores(decoded, ops):
    """``[B, gh, gw, A, C]`` scores ``sigmoid(to) · softmax(class logits)``."""
    return ops.sigmoid(decoded.object_logits[..., None]) * ops.softmax(decoded.class_logits)
