"""Binary weight quantizers (scaled sign)."""
import tensorflow as tf

from lmnet.quantizations.registry import register


def _scaled_sign(x, scale_axes):
    """``sign(x) * mean(|x|)`` over ``scale_axes`` with an identity gradient."""
    x = tf.convert_to_tensor(x)

    @tf.custom_gradient
    def quantize(value):
        scale = tf.reduce_mean(tf.abs(value), axis=scale_axes, keepdims=True)
        output = tf.sign(value) * scale

        def grad(upstream):
            return upstream
        return output, grad
    return quantize(x)


@register("binary_mean_scaling")
def binary_mean_scaling(x):
    r"""Binarizes a kernel with one scale for the whole tensor.

    Forward: :math:`y = \mathrm{sign}(x) \cdot \mathrm{mean}(|x|)` (``sign(0) = 0``).

    Backward (straight-through): :math:`\partial L / \partial x = \partial L / \partial y`.

    Args:
        x: the kernel.

    Returns:
        The binarized kernel, same shape as ``x``.
    """
    with tf.name_scope("QTZ_binary_mean_scaling"):
        return _scaled_sign(x, scale_axes=None)


@register("binary_channel_wise_mean_scaling")
def binary_channel_wise_mean_scaling(x):
    r"""Binarizes a kernel with one scale per output channel (the last axis).

    Forward: :math:`y_{\ldots,c} = \mathrm{sign}(x_{\ldots,c}) \cdot \mathrm{mean}(|x_{\ldots,c}|)`, the
    mean taken over every axis but the last.

    Backward (straight-through): :math:`\partial L / \partial x = \partial L / \partial y`.

    Args:
        x: the kernel, output channels last (``[kh, kw, in, out]`` for a convolution).

    Returns:
        The binarized kernel, same shape as ``x``.
    """
    with tf.name_scope("QTZ_binary_channel_wise_mean_scaling"):
        x = tf.convert_to_tensor(x)
        return _scaled_sign(x, scale_axes=list(range(len(x.shape) - 1)))
