"""Binary weight quantizers (scaled sign)."""
import numpy as np
import tensorflow as tf

from lmnet.quantizations.base import QonnxForm, Quantizer
from lmnet.quantizations.registry import register


class BinaryMeanScaling(Quantizer):
    r"""Binarizes a kernel with one scale for the whole tensor.

    Forward: :math:`y = \mathrm{sign}(x) \cdot \mathrm{mean}(|x|)` (``sign(0) = 0``).

    Backward (straight-through): :math:`\partial L / \partial x = \partial L / \partial y`.

    No parameters; 1 bit per weight (plus the one float scale).
    """

    name = "binary_mean_scaling"
    role = "weight"
    scale_equivariant = True

    def scale_axes(self, x):
        """The axes the mean runs over (``None``: all)."""
        return None

    def forward(self, x):
        """``sign(x) * mean(|x|)`` over :meth:`scale_axes`."""
        scale = tf.reduce_mean(tf.abs(x), axis=self.scale_axes(x), keepdims=True)
        return tf.sign(x) * scale

    def qonnx_form(self, x):
        """``BipolarQuant`` of the float kernel with scale ``mean(|x|)`` (computed by TensorFlow, as in training).

        ``BipolarQuant`` maps 0 to ``+scale`` where ``tf.sign`` gives 0; a kernel holding exact zeros is
        written instead as a 2-bit signed narrow ``Quant`` of its quantized values (levels ``-1, 0, +1`` times
        the scale, exact), with a note saying so.
        """
        x = tf.convert_to_tensor(x, tf.float32)
        scale = tf.reduce_mean(tf.abs(x), axis=self.scale_axes(x)).numpy()
        zeros = int(np.count_nonzero(x.numpy() == 0))
        if not zeros:
            return QonnxForm("BipolarQuant", scale)
        return QonnxForm("Quant", scale, bits=2, signed=True, narrow=True, value=self.forward(x).numpy(),
                         note=f"{zeros} kernel values are exactly 0, which {self.name} keeps at 0 and a 1-bit "
                              f"BipolarQuant cannot; written as a 2-bit Quant (levels -1, 0, +1 times the scale)")

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
