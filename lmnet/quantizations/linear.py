"""Linear activation quantizer."""
import tensorflow as tf

from lmnet.quantizations.registry import register


@register("linear_mid_tread_half")
def linear_mid_tread_half(x, bit=2, max_value=2.0):
    r"""Quantizes activations to ``2**bit`` evenly spaced levels in ``[0, max_value]``.

    Forward:

    .. math::

        n = 2^{bit} - 1, \qquad
        y = \frac{\mathrm{round}\left(\mathrm{clip}(x, 0, m) \cdot n / m\right)}{n} \cdot m

    with ``m = max_value`` and ``round`` halves to even (as ``tf.round`` and ``np.round``).

    Backward (straight-through inside the range, zero outside, strict at both ends):

    .. math::

        \frac{\partial L}{\partial x} = \frac{\partial L}{\partial y} \cdot [0 < x < m]

    Args:
        x: input tensor (or variable).
        bit: number of bits.
        max_value: the top of the range.

    Returns:
        The quantized tensor, same shape and dtype as ``x``.
    """
    with tf.name_scope("QTZ_linear_mid_tread_half"):
        x = tf.convert_to_tensor(x)
        levels = float(2 ** bit - 1)
        max_value = tf.cast(max_value, x.dtype)

        @tf.custom_gradient
        def quantize(value):
            clipped = tf.clip_by_value(value, tf.zeros_like(max_value), max_value)
            output = tf.round(clipped * (levels / max_value)) / levels * max_value

            def grad(upstream):
                inside = tf.logical_and(value > 0, value < max_value)
                return upstream * tf.cast(inside, upstream.dtype)
            return output, grad
        return quantize(x)
