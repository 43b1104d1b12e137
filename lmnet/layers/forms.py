"""One description per layer type: what the frozen-graph exporter, the int8 export and the profiler know of it.

:data:`FORMS` lists every Keras layer type lmnet's networks use, each as one :class:`LayerForm`:

* ``cost``: its multiply-accumulates and FLOPs for one image (the counting rules of
  :mod:`lmnet.profiling`);
* ``graph``: how it is written with plain TensorFlow ops into the frozen graph the hardware converters
  read (:mod:`lmnet.export.graph`), or ``None`` when it cannot be;
* ``folded_layer`` / ``folded_weights``: its twin in the float exports (ONNX), with whatever is computed
  from constants alone folded in (a weight quantizer's result becomes the kernel;
  :func:`lmnet.export.formats.folded_model`); by default the same layer with the same weights;
* ``integer_layer``: its twin in the model that int8 TFLite quantizes
  (:func:`lmnet.export.formats.baked_model`; an activation quantizer in its integer-friendly form), by
  default the folded layer, with the folded weights;
* ``qonnx``: how it is written in the QONNX model (:mod:`lmnet.export.qonnx`; the functions are in
  :mod:`lmnet.layers.qonnx_forms`), or ``None`` when it cannot be.

A new layer type is one new entry here, or one :func:`register` call from the module that defines it
(``tests/test_layer_forms.py`` shows both, and checks that every network's layers are described).
:func:`form_of` finds a layer's entry; a subclass matches its own entry before its base class's.

The ``graph`` functions take a *graph context* (``lmnet.export.graph``'s emitter) with
``const(variable, name)``, ``quantize(quantizer name, tensor, kwargs)``, ``remember_quantized(output,
input, layer)`` and ``quantized_source(tensor)``, then the layer and its input tensors.
"""
import dataclasses
import math
from typing import Callable, Optional

import keras
import numpy as np
import tensorflow as tf

from lmnet.layers import qonnx_forms as qonnx
from lmnet.layers.dropout import BatchSplitInvariantDropout
from lmnet.layers.quantized import IntegerFormActivation, QuantizedActivation, QuantizedConv2D
from lmnet.layers.settings import activation_name, check_last_axis, check_plain_convolution, check_plain_relu
from lmnet.layers.space_to_depth import SpaceToDepth
from lmnet.quantizations import get_quantizer


# Costs: (layer, output shape, input shapes) -> (MACs, FLOPs), batch 1 ----------------------------------


def kernel_cost(layer, output_shape, input_shapes):
    """One multiply-accumulate per kernel tap feeding each output value; FLOPs = 2 x MACs."""
    macs = math.prod(output_shape) * math.prod(layer.kernel.shape) // output_shape[-1]
    return macs, 2 * macs


def batch_norm_cost(layer, output_shape, input_shapes):
    """A multiply and an add per output value (scale and offset folded)."""
    return 0, 2 * math.prod(output_shape)


def elementwise_cost(layer, output_shape, input_shapes):
    """One FLOP per output value (activations)."""
    return 0, math.prod(output_shape)


def window_cost(layer, output_shape, input_shapes):
    """The pooling window per output value."""
    return 0, math.prod(output_shape) * math.prod(layer.pool_size)


def global_window_cost(layer, output_shape, input_shapes):
    """The whole input map per output value (global pooling)."""
    return 0, math.prod(output_shape) * math.prod(input_shapes[0][1:-1])


def merge_cost(layer, output_shape, input_shapes):
    """``inputs - 1`` FLOPs per output value (element-wise merges)."""
    return 0, (len(input_shapes) - 1) * math.prod(output_shape)


def no_cost(layer, output_shape, input_shapes):
    """Layers that only move data."""
    return 0, 0


def unknown_cost(layer, output_shape, input_shapes):
    """A layer type without an entry: :func:`kernel_cost` when it has a kernel (a depthwise or 1-D
    convolution, say), else nothing."""
    if getattr(layer, "built", False) and getattr(layer, "kernel", None) is not None:
        return kernel_cost(layer, output_shape, input_shapes)
    return 0, 0


# Graph forms: (context, layer, *inputs) -> tensor ------------------------------------------------------


def _activation(layer, x):
    return tf.nn.relu(x, name="Relu") if activation_name(layer) == "relu" else x


def conv2d_graph(context, layer, x):
    """``Conv2D`` with the (quantized) kernel, then ``BiasAdd`` and the layer's activation."""
    check_plain_convolution(layer)
    kernel = context.const(layer.kernel, "kernel")
    if getattr(layer, "weight_quantizer", None):
        kernel = context.quantize(layer.weight_quantizer, kernel, layer.weight_quantizer_kwargs)
    y = tf.nn.conv2d(x, kernel, strides=[1, *layer.strides, 1], padding=layer.padding.upper(),
                     dilations=[1, *layer.dilation_rate, 1], name="Conv2D")
    if layer.use_bias:
        y = tf.nn.bias_add(y, context.const(layer.bias, "bias"), name="BiasAdd")
    return _activation(layer, y)


def dense_graph(context, layer, x):
    """``MatMul`` + ``BiasAdd`` + activation."""
    y = tf.linalg.matmul(x, context.const(layer.kernel, "kernel"), name="MatMul")
    if layer.use_bias:
        y = tf.nn.bias_add(y, context.const(layer.bias, "bias"), name="BiasAdd")
    return _activation(layer, y)


def batch_norm_graph(context, layer, x):
    """Inference batch norm as one ``FusedBatchNormV3``."""
    check_last_axis(layer, len(x.shape), "batch norm")
    mean = context.const(layer.moving_mean, "moving_mean")
    variance = context.const(layer.moving_variance, "moving_variance")
    ones = np.ones(int(x.shape[-1]), np.float32)
    gamma = context.const(layer.gamma, "gamma") if layer.scale else tf.constant(ones, name="gamma")
    beta = context.const(layer.beta, "beta") if layer.center else tf.constant(ones * 0, name="beta")
    y, _, _ = tf.compat.v1.nn.fused_batch_norm(x, gamma, beta, mean=mean, variance=variance, epsilon=layer.epsilon,
                                               is_training=False, name="FusedBatchNormV3")
    return y


def quantized_activation_graph(context, layer, x):
    """One ``QTZ_<activation quantizer>`` node."""
    name, arguments = layer.exported(context.values)
    y = context.quantize(name, x, arguments)
    if get_quantizer(name).monotonic:
        context.remember_quantized(y, x, layer)
    return y


def relu_graph(context, layer, x):
    """``Relu`` (plain ReLU layers only)."""
    check_plain_relu(layer)
    return tf.nn.relu(x, name="Relu")


def leaky_relu_graph(context, layer, x):
    """``LeakyRelu``."""
    return tf.nn.leaky_relu(x, alpha=float(layer.negative_slope), name="LeakyRelu")


def space_to_depth_graph(context, layer, x):
    """``SpaceToDepth``."""
    return tf.nn.space_to_depth(x, layer.block_size, name="SpaceToDepth")


def identity_graph(context, layer, x):
    """Dropout and other inference no-ops disappear."""
    return x


def concatenate_graph(context, layer, *inputs):
    """``ConcatV2``."""
    tensors = inputs[0] if len(inputs) == 1 and isinstance(inputs[0], (list, tuple)) else inputs
    return tf.concat(list(tensors), axis=layer.axis, name="ConcatV2")


def max_pool_graph(context, layer, x):
    """``MaxPool``; of quantized activations: ``MaxPool`` of the quantizer's input, then the quantizer again.

    ``max(q(x)) = q(max(x))`` for a monotone quantizer, so the numbers are the same, and Blueoil's x86
    runtime has no ``MaxPool`` of packed 2-bit tensors.
    """
    source = context.quantized_source(x)
    pooled = tf.nn.max_pool2d(x if source is None else source[0], [1, *layer.pool_size, 1],
                              [1, *layer.strides, 1], layer.padding.upper(), name="MaxPool")
    if source is None:
        return pooled
    quantizer_layer = source[1]
    name, arguments = quantizer_layer.exported(context.values)
    return context.quantize(name, pooled, arguments)


def global_pool_graph(context, layer, x):
    """``AvgPool`` over the whole map, then ``Reshape`` to ``[1, channels]``."""
    height, width, channels = (int(v) for v in x.shape[1:])
    y = tf.nn.avg_pool2d(x, [1, height, width, 1], [1, 1, 1, 1], "VALID", name="AvgPool")
    return y if layer.keepdims else tf.reshape(y, [1, channels], name="Reshape")


def flatten_graph(context, layer, x):
    """``Reshape`` to ``[1, -1]``."""
    return tf.reshape(x, [1, int(np.prod(x.shape[1:]))], name="Reshape")


def softmax_graph(context, layer, x):
    """``Softmax`` over the last axis."""
    check_last_axis(layer, len(x.shape), "softmax")
    return tf.nn.softmax(x, name="Softmax")


# Folded and integer twins (ONNX, int8 TFLite) ---------------------------------------------------------------


def same_layer(layer):
    """The layer rebuilt from its config."""
    return type(layer).from_config(layer.get_config())


def layer_weights(layer):
    """The layer's weights as NumPy arrays."""
    return [variable.numpy() for variable in layer.weights]


def float_kernel_conv(layer):
    """The convolution without its weight quantizer (its kernel is baked in by :func:`baked_kernel_weights`)."""
    return type(layer).from_config(dict(layer.get_config(), weight_quantizer=None, weight_quantizer_kwargs=None))


def baked_kernel_weights(layer):
    """The weights with the kernel replaced by its quantized values."""
    weights = layer_weights(layer)
    if layer.weight_quantizer:
        weights[0] = layer.quantized_kernel().numpy()
    return weights


def fixed_activation(layer):
    """The activation layer with the quantizer it is exported as and its learned parameter (PACT, LSQ) fixed at
    its value: a layer without weights (a fixed quantizer's layer is returned as it is rebuilt)."""
    name, arguments = layer.exported()
    return type(layer).from_config(dict(layer.get_config(), activation_quantizer=name,
                                        activation_quantizer_kwargs=arguments))


def no_weights(layer):
    """``[]``: the twin layer has no weights."""
    return []


def integer_form_activation(layer):
    """The activation quantizer in its integer-friendly form (same values)."""
    return IntegerFormActivation(*layer.exported(), name=layer.name)


@dataclasses.dataclass(frozen=True)
class LayerForm:
    """What every consumer knows of one layer type (see the module).

    Attributes:
        layer_class: the Keras layer class (its subclasses match too, after their own entries).
        cost: ``(layer, output shape, input shapes) -> (MACs, FLOPs)`` for one image.
        graph: ``(context, layer, *inputs) -> tensor`` writing it into the frozen graph, or ``None``.
        folded_layer: ``layer -> layer`` of the constant-folded twin model.
        folded_weights: ``layer -> weights`` of that twin (and of the int8 twin).
        integer_layer: ``layer -> layer`` of the int8 twin model, or ``None`` for the folded layer.
        qonnx: ``(context, layer, *inputs) -> value`` writing it into the QONNX model, or ``None``.
        moves_values: its output holds only values of its inputs (moved, selected, or padded with zeros), so
            quantized inputs stay quantized at their bit width (profiling's ``input_bits``).
    """

    layer_class: type
    cost: Callable
    graph: Optional[Callable] = None
    folded_layer: Callable = dataclasses.field(default_factory=lambda: same_layer)
    folded_weights: Callable = dataclasses.field(default_factory=lambda: layer_weights)
    integer_layer: Optional[Callable] = None
    qonnx: Optional[Callable] = None
    moves_values: bool = False

    def integer_twin(self, layer):
        """The layer of the int8 twin model."""
        return (self.integer_layer or self.folded_layer)(layer)


#: Every layer type, subclasses before their base classes (:func:`register` adds one in front).
FORMS = [
    LayerForm(QuantizedConv2D, kernel_cost, conv2d_graph, float_kernel_conv, baked_kernel_weights,
              qonnx=qonnx.conv2d_qonnx),
    LayerForm(keras.layers.Conv2D, kernel_cost, conv2d_graph, qonnx=qonnx.conv2d_qonnx),
    LayerForm(keras.layers.Dense, kernel_cost, dense_graph, qonnx=qonnx.dense_qonnx),
    LayerForm(keras.layers.BatchNormalization, batch_norm_cost, batch_norm_graph, qonnx=qonnx.batch_norm_qonnx),
    LayerForm(QuantizedActivation, elementwise_cost, quantized_activation_graph, fixed_activation, no_weights,
              integer_layer=integer_form_activation, qonnx=qonnx.quantized_activation_qonnx),
    LayerForm(keras.layers.ReLU, elementwise_cost, relu_graph, qonnx=qonnx.relu_qonnx),
    LayerForm(keras.layers.LeakyReLU, elementwise_cost, leaky_relu_graph, qonnx=qonnx.leaky_relu_qonnx),
    LayerForm(keras.layers.Softmax, elementwise_cost, softmax_graph, qonnx=qonnx.softmax_qonnx),
    LayerForm(keras.layers.ELU, elementwise_cost),
    LayerForm(keras.layers.PReLU, elementwise_cost),
    LayerForm(keras.layers.Activation, elementwise_cost),
    LayerForm(keras.layers.MaxPooling2D, window_cost, max_pool_graph, qonnx=qonnx.max_pool_qonnx, moves_values=True),
    LayerForm(keras.layers.AveragePooling2D, window_cost),
    LayerForm(keras.layers.MaxPooling1D, window_cost, moves_values=True),
    LayerForm(keras.layers.AveragePooling1D, window_cost),
    LayerForm(keras.layers.GlobalAveragePooling2D, global_window_cost, global_pool_graph,
              qonnx=qonnx.global_pool_qonnx),
    LayerForm(keras.layers.GlobalMaxPooling2D, global_window_cost, moves_values=True),
    LayerForm(keras.layers.Add, merge_cost),
    LayerForm(keras.layers.Subtract, merge_cost),
    LayerForm(keras.layers.Multiply, merge_cost),
    LayerForm(keras.layers.Maximum, merge_cost),
    LayerForm(keras.layers.Minimum, merge_cost),
    LayerForm(keras.layers.Average, merge_cost),
    LayerForm(SpaceToDepth, no_cost, space_to_depth_graph, qonnx=qonnx.space_to_depth_qonnx, moves_values=True),
    LayerForm(keras.layers.Concatenate, no_cost, concatenate_graph, qonnx=qonnx.concatenate_qonnx, moves_values=True),
    LayerForm(keras.layers.Flatten, no_cost, flatten_graph, qonnx=qonnx.flatten_qonnx, moves_values=True),
    LayerForm(BatchSplitInvariantDropout, no_cost, identity_graph, qonnx=qonnx.identity_qonnx, moves_values=True),
    LayerForm(keras.layers.Dropout, no_cost, identity_graph, qonnx=qonnx.identity_qonnx, moves_values=True),
    LayerForm(keras.layers.InputLayer, no_cost),
    LayerForm(keras.layers.Reshape, no_cost, moves_values=True),
    LayerForm(keras.layers.ZeroPadding2D, no_cost, moves_values=True),
]

#: The form of layer types without an entry: a kernel's cost, no graph form, the same layer in both twins.
UNKNOWN = LayerForm(object, unknown_cost)


def register(form):
    """Adds the :class:`LayerForm` of a new layer type, in front of the others (it may subclass one of them)."""
    FORMS.insert(0, form)
    return form


def unregister(form):
    """Removes a form added by :func:`register`."""
    FORMS.remove(form)


def form_of(layer):
    """The :class:`LayerForm` of ``layer`` (:data:`UNKNOWN` when its type has no entry)."""
    for form in FORMS:
        if isinstance(layer, form.layer_class):
            return form
    return UNKNOWN
