"""Ternary weight quantizer (Ternary Weight Networks)."""
import tensorflow as tf

from lmnet.quantizations.registry import register


@register("ternary")
def ternary(x):
    r"""Ternarizes a kernel to :math:`\{-\alpha, 0, +\alpha\}`.

    Forward:

    .. math::

        \Delta = 0.7 \cdot \mathrm{mean}(|x|), \qquad
        \alpha = \mathrm{mean}\{|x_i| : |x_i| > \Delta\}, \qquad
        y = \alpha \cdot \mathrm{sign}(x) \cdot [|x| > \Delta]

    (``alpha = 0`` when no value exceeds the threshold).

    Backward (straight-through): :math:`\partial L / \partial x = \partial L / \partial y`.

    Args:
        x: the kernel.

    Returns:
        The ternarized kernel, same shape as ``x``.
    """
    with tf.name_scope("QTZ_ternary"):
        x = tf.convert_to_tensor(x)

        @tf.custom_gradient
        def quantize(value):
            magnitude = tf.abs(value)
            threshold = 0.7 * tf.reduce_mean(magnitude)
            kept = tf.cast(magnitude > threshold, value.dtype)
            alpha = tf.math.divide_no_nan(tf.reduce_sum(magnitude * kept), tf.reduce_sum(kept))
            output = alpha * tf.sign(value) * kept

            def grad(upstream):
                return upstream
            return output, grad
        return quantize(x)
