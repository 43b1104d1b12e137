"""Quantizers as TF1 "Defun" functions, so each appears in a frozen graph as ONE node of op type ``QTZ_<name>``.

A hardware converter recognises a quantizer by the node's op type and finds its definition in the
graph's function library. The function's inputs are the tensor to quantize followed by the
quantizer's parameters as scalars of upstream Blueoil's dtypes: ``QTZ_linear_mid_tread_half(x: float32,
bit: int32, max_value: float32)``. The converter sizes its threshold tables (``2**bit - 1`` levels)
from the integer ``bit``, and the C++ code it generates takes an integer tensor for it. The
parameters are ``Const`` nodes named ``<node>/bit``, ``<node>/max_value``.

The bodies repeat the math of :mod:`lmnet.quantizations` op for op, so the graph computes exactly
what the Keras model computes.
"""
import tensorflow as tf
from tensorflow.python.framework import function as tf1_function

#: Prefix of every quantizer function (and node op type) in an exported graph.
PREFIX = "QTZ_"


def _linear_mid_tread_half(x, bit, max_value):
    levels = tf.cast(tf.pow(2, bit) - 1, tf.float32)
    clipped = tf.clip_by_value(x, tf.zeros_like(max_value), max_value)
    return tf.round(clipped * (levels / max_value)) / levels * max_value


def _binary_mean_scaling(x):
    scale = tf.reduce_mean(tf.abs(x), axis=None, keepdims=True)
    return tf.sign(x) * scale


def _binary_channel_wise_mean_scaling(x):
    axes = tf.range(tf.rank(x) - 1)
    scale = tf.reduce_mean(tf.abs(x), axis=axes, keepdims=True)
    return tf.sign(x) * scale


def _ternary(x):
    magnitude = tf.abs(x)
    threshold = 0.7 * tf.reduce_mean(magnitude)
    kept = tf.cast(magnitude > threshold, x.dtype)
    alpha = tf.math.divide_no_nan(tf.reduce_sum(magnitude * kept), tf.reduce_sum(kept))
    return alpha * tf.sign(x) * kept


#: ``{quantizer name: (((parameter name, dtype), ...), body)}``; the body takes the tensor then the parameters.
QUANTIZER_BODIES = {
    "linear_mid_tread_half": ((("bit", tf.int32), ("max_value", tf.float32)), _linear_mid_tread_half),
    "binary_mean_scaling": ((), _binary_mean_scaling),
    "binary_channel_wise_mean_scaling": ((), _binary_channel_wise_mean_scaling),
    "ternary": ((), _ternary),
}

#: Parameter defaults of the quantizers that have parameters (as in :mod:`lmnet.quantizations`).
PARAMETER_DEFAULTS = {"linear_mid_tread_half": {"bit": 2, "max_value": 2.0}}


def _scalar(value, dtype, name, param):
    """``value`` as a Python number of ``dtype``; an integer parameter must hold a whole number."""
    if dtype.is_integer:
        if float(value) != int(value):
            raise ValueError(f"quantizer '{name}': {param} must be a whole number, got {value!r}")
        return int(value)
    return float(value)


def _same_shape(op):
    return [op.inputs[0].get_shape()]


class GraphQuantizers:
    """Creates the ``QTZ_*`` functions of one ``tf.Graph`` (once each) and applies them.

    Use it while that graph is the default graph.
    """

    def __init__(self):
        self._functions = {}

    def _function(self, name):
        if name not in self._functions:
            if name not in QUANTIZER_BODIES:
                raise ValueError(f"quantizer '{name}' has no graph definition; known: {', '.join(QUANTIZER_BODIES)}")
            params, body = QUANTIZER_BODIES[name]
            dtypes = [tf.float32] + [dtype for _, dtype in params]
            self._functions[name] = tf1_function.Defun(*dtypes, func_name=PREFIX + name,
                                                       shape_func=_same_shape)(body)
        return self._functions[name]

    def apply(self, name, x, kwargs, node_name):
        """Adds one ``QTZ_<name>`` node quantizing ``x``.

        Args:
            name: the registered quantizer name.
            x: a float32 graph tensor.
            kwargs: the quantizer's keyword arguments (missing ones take their defaults).
            node_name: name of the new node, relative to the current name scope (its parameter constants
                are named ``<node_name>/<param>``).

        Returns:
            The quantized tensor (same shape as ``x``).
        """
        params = QUANTIZER_BODIES.get(name, ((), None))[0]
        values = dict(PARAMETER_DEFAULTS.get(name, {}), **(kwargs or {}))
        unknown = sorted(set(kwargs or {}) - {param for param, _ in params})
        if unknown:
            raise ValueError(f"quantizer '{name}' has no parameter(s) {', '.join(unknown)}")
        function = self._function(name)
        constants = [tf.constant(_scalar(values[param], dtype, name, param), dtype, name=f"{node_name}/{param}")
                     for param, dtype in params]
        return function(x, *constants, name=node_name)
