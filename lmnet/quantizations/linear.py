"""Linear activation quantizer."""
import numpy as np
import tensorflow as tf

from lmnet.quantizations.base import Parameter, QonnxForm, Quantizer
from lmnet.quantizations.registry import register


def _levels_and_top(x, bit, max_value):
    """``2**bit - 1`` and ``max_value`` as tensors of ``x``'s dtype (from Python numbers or scalar tensors)."""
    return tf.cast(tf.pow(2, bit) - 1, x.dtype), tf.cast(max_value, x.dtype)


class LinearMidTreadHalf(Quantizer):
    r"""Quantizes activations to ``2**bit`` evenly spaced levels in ``[0, max_value]``.

    Forward, with the level spacing (scale) :math:`s` computed once in float32:

    .. math::

        s = \frac{m}{2^{bit} - 1}, \qquad
        y = \mathrm{round}\left(\frac{\mathrm{clip}(x, 0, m)}{s}\right) \cdot s

    with ``m = max_value`` and ``round`` halving to even (as ``tf.round`` and ``np.round``). This is,
    operation for operation, QONNX's ``Quant`` node with that scale (unsigned, not narrow, zero point 0,
    ``ROUND``), so the exported QONNX model computes the same levels bit for bit.

    Backward (straight-through inside the range, zero outside, strict at both ends):

    .. math::

        \frac{\partial L}{\partial x} = \frac{\partial L}{\partial y} \cdot [0 < x < m]

    Parameters: ``bit`` (int32, default 2), ``max_value`` (float32, default 2.0). Exported as
    ``QTZ_linear_mid_tread_half(x: float32, bit: int32, max_value: float32)``.
    """

    name = "linear_mid_tread_half"
    role = "activation"
    parameters = (Parameter("bit", "int32", 2), Parameter("max_value", "float32", 2.0))
    monotonic = True

    def forward(self, x, bit, max_value):
        """``round(clip(x, 0, m) / s) * s`` with ``s = m / (2**bit - 1)``."""
        levels, top = _levels_and_top(x, bit, max_value)
        scale = top / levels
        clipped = tf.clip_by_value(x, tf.zeros_like(top), top)
        return tf.round(clipped / scale) * scale

    def gradient_mask(self, x, bit, max_value):
        """``0 < x < max_value``."""
        _, top = _levels_and_top(x, bit, max_value)
        return tf.logical_and(x > 0, x < top)

    def integer_forward(self, x, bit, max_value):
        """The same values around a ReLU6, so that int8 TFLite keeps its input precise.

        ``clip(x, 0, m) / s`` equals ``relu6(x * 6 / m) * n / 6``; TFLite fuses the scaling into the
        convolution before it and the ReLU6 into that convolution's output, whose int8 range is then ``[0, 6]``
        instead of the whole batch-norm range, so far fewer values cross a rounding boundary than with a plain
        clip. ``ROUND`` still runs in float between a dequantize and a quantize (TFLite has no integer rounding
        kernel).
        """
        levels, top = _levels_and_top(x, bit, max_value)
        clipped = tf.nn.relu6(x * (6.0 / top))
        return tf.round(clipped * (levels / 6.0)) * (top / levels)

    def qonnx_form(self, x, bit, max_value):
        """``Quant`` with ``bit`` bits, unsigned, not narrow, zero point 0, scale ``max_value / (2**bit - 1)``
        and ``ROUND`` (half to even): :meth:`forward`'s operations (its clamp to ``[0, 2**bit - 1]`` after the
        division is the clip to ``[0, max_value]`` before it; above the top both round to the top level).
        """
        scale = np.float32(max_value) / np.float32(2 ** int(bit) - 1)
        return QonnxForm("Quant", np.float32(scale), bits=int(bit))

    def bits(self, bit, max_value):
        """``bit``."""
        return int(bit)


linear_mid_tread_half = register(LinearMidTreadHalf())
