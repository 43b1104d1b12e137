"""Binary weight quantizers (scaled sign)."""
import tensorflow as tf

from lmnet.quantizations.base import Quantizer
from lmnet.quantizations.registry import register


class BinaryMeanScaling(Quantizer):
    r"""Binarizes a kernel with one scale for the whole tensor.

    Forward: :math:`y = \mathrm{sign}(x) \cdot \mathrm{mean}(|x|)` (``sign(0) = 0``).

    Backward (straight-through): :math:`\partial L / \partial x = \partial L / \partial y`.

    No parameters; 1 bit per weight (plus the one float scale).
    """

    name = "binary_mean_scaling"
    role = "weight"

    def scale_axes(self, x):
        """The axes the mean runs over (``None``: all)."""
        return None

    def forward(self, x):
        """``sign(x) * mean(|x|)`` over :meth:`scale_axes`."""
        scale = tf.reduce_mean(tf.abs(x), axis=self.scale_axes(x), keepdims=True)
        return tf.sign(x) * scale

    def bits(self):
        """1."""
        return 1


class BinaryChannelWiseMeanScaling(BinaryMeanScaling):
    r"""Binarizes a kernel with one scale per output channel (the last axis).

    Forward: :math:`y_{\ldots,c} = \mathrm{sign}(x_{\ldots,c}) \cdot \mathrm{mean}(|x_{\ldots,c}|)`, the
    mean taken over every axis but the last (``[kh, kw, in, out]`` for a convolution).

    Backward (straight-through): :math:`\partial L / \partial x = \partial L / \partial y`.

    No parameters; 1 bit per weight (plus one float scale per output channel).
    """

    name = "binary_channel_wise_mean_scaling"

    def scale_axes(self, x):
        """Every axis but the last (a tensor, so that it also works on an input of unknown shape)."""
        return tf.range(tf.rank(x) - 1)


binary_mean_scaling = register(BinaryMeanScaling())
binary_channel_wise_mean_scaling = register(BinaryChannelWiseMeanScaling())
