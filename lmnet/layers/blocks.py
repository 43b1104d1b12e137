"""Convolution blocks: conv (no bias, 'same') -> batch norm -> activation."""
import keras
import tensorflow as tf

from lmnet.layers.quantized import QuantizedActivation, QuantizedConv2D


def conv_block(x, filters, kernel_size, name, activation="relu", weight_quantizer=None, activation_quantizer=None,
               strides=1, shared_range=None):
    """Applies conv (no bias, 'same' padding) -> batch norm (scale and center) -> activation.

    Layers are named ``<name>`` (the convolution), ``<name>_bn`` and ``<name>_act``.

    Args:
        x: input tensor (Keras functional).
        filters: output channels.
        kernel_size: an int or ``(height, width)``.
        name: the block's name.
        activation: ``"relu"``, ``"leaky_relu"`` (alpha 0.1), ``"linear"`` or ``None``; ignored when
            ``activation_quantizer`` is given.
        weight_quantizer: ``(name, kwargs)`` of a weight quantizer, or ``None`` for float.
        activation_quantizer: ``(name, kwargs)`` of an activation quantizer used as the activation.
        strides: convolution strides.
        shared_range: a :class:`~lmnet.layers.quantized.SharedRange` tying the activation quantizer's learned
            range to other blocks' (the inputs of one concatenation); ignored without an activation quantizer.

    Returns:
        The block's output tensor.
    """
    quantizer, quantizer_kwargs = weight_quantizer or (None, None)
    x = QuantizedConv2D(filters, kernel_size, strides=strides, padding="same", use_bias=False,
                        weight_quantizer=quantizer, weight_quantizer_kwargs=quantizer_kwargs, name=name)(x)
    x = keras.layers.BatchNormalization(momentum=0.99, epsilon=1e-3, synchronized=_in_multi_replica_scope(),
                                        name=f"{name}_bn")(x)
    return apply_activation(x, f"{name}_act", activation, activation_quantizer, shared_range)


def _in_multi_replica_scope():
    """True inside the scope of a ``tf.distribute`` strategy with several replicas: batch norm then
    computes its statistics over the global batch (``synchronized=True``)."""
    return tf.distribute.has_strategy() and tf.distribute.get_strategy().num_replicas_in_sync > 1


def apply_activation(x, name, activation, activation_quantizer=None, shared_range=None):
    """Applies a named activation, or the activation quantizer when one is given (with its learned range
    tied through ``shared_range``, a :class:`~lmnet.layers.quantized.SharedRange`, when given)."""
    if activation_quantizer is not None:
        quantizer, quantizer_kwargs = activation_quantizer
        return QuantizedActivation(quantizer, quantizer_kwargs, shared_range=shared_range, name=name)(x)
    if activation in (None, "linear"):
        return x
    if activation == "relu":
        return keras.layers.ReLU(name=name)(x)
    if activation == "leaky_relu":
        return keras.layers.LeakyReLU(negative_slope=0.1, name=name)(x)
    raise ValueError(f"unknown activation '{activation}'")


def lmnet_block(x, filters, kernel_size, name, **kwargs):
    """An lmnet block: :func:`conv_block` with ReLU by default."""
    kwargs.setdefault("activation", "relu")
    return conv_block(x, filters, kernel_size, name, **kwargs)


def darknet_block(x, filters, kernel_size, name, **kwargs):
    """A darknet block: :func:`conv_block` with leaky ReLU (alpha 0.1) by default."""
    kwargs.setdefault("activation", "leaky_relu")
    return conv_block(x, filters, kernel_size, name, **kwargs)
