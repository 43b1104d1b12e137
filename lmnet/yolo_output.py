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
:func:`darknet_permutation` maps one order onto the other. The helpers here only slice the last
axis, so they work alike on NumPy arrays and TensorFlow tensors (the loss, the NumPy and the
TensorFlow post-processors all split the output with :func:`split_anchor_channels`).
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
