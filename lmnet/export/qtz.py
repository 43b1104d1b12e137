"""Quantizers as TF1 "Defun" functions, so each appears in a frozen graph as ONE node of op type ``QTZ_<name>``.

A hardware converter recognises a quantizer by the node's op type and finds its definition in the
graph's function library. The function's body is the quantizer's own
:meth:`~lmnet.quantizations.Quantizer.forward`; its inputs are the tensor to quantize followed by the
quantizer's :attr:`~lmnet.quantizations.Quantizer.parameters` as scalars of their declared dtypes, named
as the parameters: ``QTZ_linear_mid_tread_half(x: float32, bit: int32, max_value: float32)`` as in upstream
Blueoil. The converter sizes its threshold tables (``2**bit - 1`` levels) from the integer ``bit``, and
the C++ code it generates takes an integer tensor for it. The parameter values are ``Const`` nodes named
``<node>/bit``, ``<node>/max_value``.
"""
import tensorflow as tf
from tensorflow.python.framework import function as tf1_function

from lmnet.quantizations import PREFIX, get_quantizer
from lmnet.quantizations.base import PARAMETER_DTYPES

__all__ = ["PREFIX", "GraphQuantizers", "node_arguments"]


def _same_shape(op):
    return [op.inputs[0].get_shape()]


class GraphQuantizers:
    """Creates the ``QTZ_*`` functions of one ``tf.Graph`` (once each) and applies them.

    Use it while that graph is the default graph.
    """

    def __init__(self):
        self._functions = {}

    def _function(self, quantizer):
        if quantizer.name not in self._functions:
            dtypes = [tf.float32] + [PARAMETER_DTYPES[parameter.dtype] for parameter in quantizer.parameters]
            self._functions[quantizer.name] = tf1_function.Defun(*dtypes, func_name=PREFIX + quantizer.name,
                                                                 shape_func=_same_shape)(quantizer.forward)
        return self._functions[quantizer.name]

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
        quantizer = get_quantizer(name)
        values = quantizer.arguments(kwargs)
        constants = [tf.constant(values[parameter.name], PARAMETER_DTYPES[parameter.dtype],
                                 name=f"{node_name}/{parameter.name}") for parameter in quantizer.parameters]
        return self._function(quantizer)(x, *constants, name=node_name)


def node_arguments(nodes, node):
    """The quantizer of a ``QTZ_*`` node and its arguments, read back from the node's parameter constants.

    Args:
        nodes: ``{name: NodeDef}`` of the graph.
        node: a ``QTZ_*`` node.

    Returns:
        ``(quantizer, {parameter name: value})``.
    """
    quantizer = get_quantizer(node.op[len(PREFIX):])
    values = {parameter.name: tf.make_ndarray(nodes[source.split(":")[0]].attr["value"].tensor).item()
              for parameter, source in zip(quantizer.parameters, node.input[1:])}
    return quantizer, quantizer.arguments(values)
