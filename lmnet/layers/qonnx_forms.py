"""How each layer type is written in a QONNX model (NCHW, batch 1): the ``qonnx`` entries of
:mod:`lmnet.layers.forms`.

Each function takes a *QONNX context* (:mod:`lmnet.export.qonnx`'s builder), the layer and its input
values, and returns its output value. The context offers:

* ``value(variable)``: a model variable as a NumPy array (TensorFlow's layout);
* ``initializer(array, name)``: a float32 initializer, returns its tensor name;
* ``node(op_type, inputs, shape, name, **attributes)``: one standard ONNX node, returns its output value
  (``.name``, ``.shape`` in ONNX layout);
* ``quantize(quantizer, x, kwargs)``: an activation quantizer's ``Quant`` node;
* ``quantized_weight(quantizer, kernel, kwargs, permutation, name)``: a kernel through its weight
  quantizer's node, transposed by ``permutation`` into ONNX's layout; returns the tensor name;
* ``output_shape(layer)``: the layer's output shape in ONNX layout.

Every spatial tensor is NCHW; a convolution kernel is OIHW (``HWIO.transpose(3, 2, 0, 1)``).
"""
from lmnet.errors import LmnetError
from lmnet.layers.settings import (activation_name, check_last_axis, check_plain_convolution, check_plain_relu,
                                   same_padding)

#: HWIO (TensorFlow) to OIHW (ONNX) for convolution kernels.
CONV_KERNEL_PERMUTATION = (3, 2, 0, 1)
#: A dense kernel keeps its ``[in, out]`` layout (ONNX ``MatMul``).
DENSE_KERNEL_PERMUTATION = (0, 1)
#: NCHW to NHWC.
TO_CHANNELS_LAST = (0, 2, 3, 1)


def channel_axis(rank):
    """The ONNX axis of TensorFlow's last (channel) axis for a tensor of ``rank``."""
    return 1 if rank == 4 else rank - 1


def _pads(layer, x, kernel_size, dilations=None):
    """ONNX ``pads`` (``[top, left, bottom, right]``) of the layer's ``same`` or ``valid`` padding."""
    if layer.padding == "valid":
        return [0, 0, 0, 0]
    padding = same_padding(x.shape[2:], kernel_size, layer.strides, dilations)
    return [before for before, _ in padding] + [after for _, after in padding]


def _activation(context, layer, y):
    return context.node("Relu", [y], y.shape, "Relu") if activation_name(layer) == "relu" else y


def _bias(context, layer, inputs):
    return inputs + [context.initializer(context.value(layer.bias), "bias")] if layer.use_bias else inputs


def conv2d_qonnx(context, layer, x):
    """``Conv`` (explicit pads, strides, dilations, group) with the (quantized) OIHW kernel, then the activation."""
    check_plain_convolution(layer)
    kernel = context.value(layer.kernel)
    if getattr(layer, "weight_quantizer", None):
        weight = context.quantized_weight(layer.weight_quantizer, kernel, layer.weight_quantizer_kwargs,
                                          CONV_KERNEL_PERMUTATION, "kernel")
    else:
        weight = context.initializer(kernel.transpose(CONV_KERNEL_PERMUTATION), "kernel")
    y = context.node("Conv", _bias(context, layer, [x.name, weight]), context.output_shape(layer), "Conv",
                     kernel_shape=list(layer.kernel_size), strides=list(layer.strides),
                     pads=_pads(layer, x, layer.kernel_size, layer.dilation_rate),
                     dilations=list(layer.dilation_rate), group=1)
    return _activation(context, layer, y)


def dense_qonnx(context, layer, x):
    """``MatMul`` (+ ``Add`` of the bias) + activation."""
    y = context.node("MatMul", [x.name, context.initializer(context.value(layer.kernel), "kernel")],
                     context.output_shape(layer), "MatMul")
    if layer.use_bias:
        y = context.node("Add", [y.name, context.initializer(context.value(layer.bias), "bias")], y.shape, "Add")
    return _activation(context, layer, y)


def batch_norm_qonnx(context, layer, x):
    """Inference ``BatchNormalization`` with the layer's epsilon (Keras' default 1e-3, not ONNX's 1e-5)."""
    check_last_axis(layer, len(x.shape), "batch norm")
    channels = x.shape[1]
    ones = [1.0] * channels
    gamma = context.value(layer.gamma) if layer.scale else ones
    beta = context.value(layer.beta) if layer.center else [0.0] * channels
    names = [context.initializer(value, name) for value, name in (
        (gamma, "gamma"), (beta, "beta"), (context.value(layer.moving_mean), "moving_mean"),
        (context.value(layer.moving_variance), "moving_variance"))]
    return context.node("BatchNormalization", [x.name, *names], x.shape, "BatchNormalization",
                        epsilon=float(layer.epsilon))


def quantized_activation_qonnx(context, layer, x):
    """The activation quantizer's ``Quant`` node."""
    name, arguments = layer.exported(context.values)
    return context.quantize(name, x, arguments)


def relu_qonnx(context, layer, x):
    """``Relu``."""
    check_plain_relu(layer)
    return context.node("Relu", [x.name], x.shape, "Relu")


def leaky_relu_qonnx(context, layer, x):
    """``LeakyRelu``."""
    return context.node("LeakyRelu", [x.name], x.shape, "LeakyRelu", alpha=float(layer.negative_slope))


def space_to_depth_qonnx(context, layer, x):
    """``SpaceToDepth`` (ONNX's NCHW op orders output channels as TensorFlow's NHWC one)."""
    return context.node("SpaceToDepth", [x.name], context.output_shape(layer), "SpaceToDepth",
                        blocksize=int(layer.block_size))


def identity_qonnx(context, layer, x):
    """Dropout and other inference no-ops disappear."""
    return x


def concatenate_qonnx(context, layer, *inputs):
    """``Concat`` along the ONNX axis of the layer's axis."""
    values = inputs[0] if len(inputs) == 1 and isinstance(inputs[0], (list, tuple)) else inputs
    rank = len(values[0].shape)
    if layer.axis not in (-1, rank - 1):
        raise LmnetError(f"export: layer {layer.name}: concatenation over axis {layer.axis}")
    return context.node("Concat", [value.name for value in values], context.output_shape(layer), "Concat",
                        axis=channel_axis(rank))


def max_pool_qonnx(context, layer, x):
    """``MaxPool`` (``same`` padding as explicit pads, which ONNX ignores in the maximum, as TensorFlow)."""
    return context.node("MaxPool", [x.name], context.output_shape(layer), "MaxPool",
                        kernel_shape=list(layer.pool_size), strides=list(layer.strides),
                        pads=_pads(layer, x, layer.pool_size))


def global_pool_qonnx(context, layer, x):
    """``GlobalAveragePool``, then ``Flatten`` unless the layer keeps the dimensions (then NCHW ``[1, C, 1, 1]``)."""
    y = context.node("GlobalAveragePool", [x.name], (*x.shape[:2], 1, 1), "GlobalAveragePool")
    return y if layer.keepdims else context.node("Flatten", [y.name], x.shape[:2], "Flatten", axis=1)


def flatten_qonnx(context, layer, x):
    """``Flatten`` in TensorFlow's (height, width, channel) order: a ``Transpose`` to NHWC first when needed."""
    if len(x.shape) == 4 and x.shape[2:] != (1, 1):
        x = context.node("Transpose", [x.name], tuple(x.shape[axis] for axis in TO_CHANNELS_LAST), "Transpose",
                         perm=list(TO_CHANNELS_LAST))
    return context.node("Flatten", [x.name], context.output_shape(layer), "Flatten", axis=1)


def softmax_qonnx(context, layer, x):
    """``Softmax`` over the channel axis."""
    check_last_axis(layer, len(x.shape), "softmax")
    return context.node("Softmax", [x.name], x.shape, "Softmax", axis=channel_axis(len(x.shape)))
