r"""Learned activation ranges moved to the one Blueoil's converter assumes, with the same outputs.

Blueoil's DLK converter computes a quantized convolution that has no threshold table (the last quantized one,
whose output meets a float activation instead of a quantizer) as if its input quantizer had ``max_value`` 2.0
and 2 bits (``blueoil/converter/core/view.py``), whatever the graph says. A network with learned ranges
(``pact``, ``lsq``) therefore gets wrong outputs from it. The range of a ``linear_mid_tread_half`` quantizer
can be moved without changing what the network computes: for :math:`k > 0`,

.. math::

    Q(x;\ m) = k \cdot Q(x / k;\ m / k),

so with :math:`k = m / 2` the batch norm before the quantizer is divided by :math:`k` (its ``gamma`` and
``beta``), the quantizer runs with ``max_value`` 2.0, and every convolution reading its output (through max
pooling, space-to-depth or a concatenation whose inputs share :math:`k`) has its kernel multiplied by
:math:`k`; its weight quantizer must be scale-equivariant (:attr:`lmnet.quantizations.base.Quantizer.
scale_equivariant`: binary mean scaling, ternary) or absent. The frozen graph is written from these values.
"""
import dataclasses

import keras
import numpy as np

from lmnet.export.graph import DLK_UNTHRESHOLDED_INPUT
from lmnet.layers import QuantizedActivation, QuantizedConv2D
from lmnet.layers.forms import form_of
from lmnet.quantizations import get_quantizer


@dataclasses.dataclass
class MovedRanges:
    """What :func:`converter_values` did.

    Attributes:
        values: ``{id(variable): value}`` of every model variable, the moved ones changed (the frozen-graph
            exporter's input).
        moved: ``{activation layer: k}`` of the moved ranges (``k`` = learned ``max_value`` / 2).
        kept: ``{activation layer: reason}`` of the learned ranges that could not be moved.
        scaled_layers: ``{layer: k}`` of the layers whose outputs the frozen graph computes divided by ``k`` (the
            batch norms, the moved activations and the data moves up to the convolutions), for layer parity.
    """

    values: dict
    moved: dict
    kept: dict
    scaled_layers: dict


def converter_values(model):
    """The variable values of ``model`` with every learned ``linear_mid_tread_half`` range moved to
    :data:`lmnet.export.graph.DLK_UNTHRESHOLDED_INPUT` where the layers around it allow it (see the module
    docstring)."""
    values = {id(variable): np.asarray(variable.numpy()) for variable in model.weights}
    moved, kept, scaled_layers = {}, {}, {}
    for owner, followers in _range_groups(model).items():
        name, arguments = owner.exported()
        k = arguments.get("max_value", DLK_UNTHRESHOLDED_INPUT) / DLK_UNTHRESHOLDED_INPUT
        if name != "linear_mid_tread_half" or k == 1.0:
            continue
        layers = [owner, *followers]
        plan, reason = _plan(model, layers)
        if plan is None:
            kept.update({layer.name: reason for layer in layers})
            continue
        batch_norms, convolutions, data_moves = plan
        for batch_norm in batch_norms:
            for variable in (batch_norm.gamma, batch_norm.beta):
                values[id(variable)] = values[id(variable)] / np.float32(k)
        for convolution in convolutions:
            values[id(convolution.kernel)] = values[id(convolution.kernel)] * np.float32(k)
        values[id(owner.learned_value)] = np.asarray(DLK_UNTHRESHOLDED_INPUT, np.float32)
        moved.update({layer.name: k for layer in layers})
        scaled_layers.update({layer.name: k for layer in [*batch_norms, *layers, *data_moves]})
    return MovedRanges(values, moved, kept, scaled_layers)


def _range_groups(model):
    """``{owner layer: [the layers sharing its learned range]}``."""
    activations = [layer for layer in model.layers if isinstance(layer, QuantizedActivation)]
    owners = {layer.name: layer for layer in activations if layer.learned_value is not None}
    groups = {owner: [] for owner in owners.values()}
    for layer in activations:
        if layer.learned_value is None and layer.range_variable() is not None:
            groups[owners[layer.range_owner]].append(layer)
    return groups


def _plan(model, layers):
    """``((batch norms to divide, convolutions to multiply, data moves between), None)`` for moving the range of
    ``layers``, or ``(None, reason)``."""
    batch_norms, convolutions, data_moves, sources = [], set(), set(), {layer.name for layer in layers}
    for layer in layers:
        (producer,) = _inputs(layer)
        if not isinstance(producer, keras.layers.BatchNormalization) or not producer.scale or not producer.center \
                or len(_consumers(model, producer)) != 1:
            return None, f"{layer.name} does not follow a batch norm of its own (with scale and centre)"
        batch_norms.append(producer)
        for consumer, reason in _reading_layers(model, layer, sources):
            if consumer is None:
                return None, reason
            (convolutions if isinstance(consumer, QuantizedConv2D) else data_moves).add(consumer)
    return (batch_norms, _by_name(convolutions), _by_name(data_moves)), None


def _by_name(layers):
    return sorted(layers, key=lambda layer: layer.name)


def _reading_layers(model, layer, sources):
    """Yields ``(layer, None)`` for each convolution and data move reading ``layer``'s values, or
    ``(None, reason)``."""
    pending = list(_consumers(model, layer))
    while pending:
        consumer = pending.pop()
        if isinstance(consumer, QuantizedConv2D):
            quantizer = consumer.weight_quantizer
            if quantizer and not get_quantizer(quantizer).scale_equivariant:
                yield None, f"{consumer.name}'s weight quantizer {quantizer} is not scale-equivariant"
                return
            yield consumer, None
        elif _moves_values(consumer):
            if isinstance(consumer, keras.layers.Concatenate):
                others = [x for x in _inputs(consumer) if not _reaches_only(x, sources)]
                if others:
                    yield None, f"{consumer.name} also joins {others[0].name}, whose range differs"
                    return
            yield consumer, None
            pending.extend(_consumers(model, consumer))
        else:
            yield None, f"{consumer.name} ({type(consumer).__name__}) reads {layer.name}'s values"
            return


def _reaches_only(layer, sources):
    """Whether ``layer``'s values come through data moves from the layers named ``sources`` only."""
    if layer.name in sources:
        return True
    return _moves_values(layer) and all(_reaches_only(x, sources) for x in _inputs(layer))


def _moves_values(layer):
    """Whether ``layer``'s output holds only values of its inputs (its form's ``moves_values``: max pooling,
    space-to-depth, concatenation …), so a positive scale passes through it."""
    return form_of(layer).moves_values


def _inputs(layer):
    """The layers whose outputs ``layer`` reads (its first call)."""
    return [parent.operation for parent in layer._inbound_nodes[0].parent_nodes]


def _consumers(model, layer):
    """The layers of ``model`` reading ``layer``'s output."""
    names = {node.operation.name for node in layer._outbound_nodes}
    return [other for other in model.layers if other.name in names]
