"""Learned activation ranges moved to Blueoil's 2.0 in the frozen graph (lmnet.export.converter_ranges), and the
warning for a convolution the converter computes with an assumed input range."""
import keras
import numpy as np
import pytest

from lmnet.export import converter_ranges, graph
from lmnet.export.graph import OUTPUT_NAME, build_graph_def, converter_limit_warnings, node_arguments
from lmnet.layers import QuantizedActivation, QuantizedConv2D, SharedRange, SpaceToDepth

IMAGES = np.random.default_rng(0).uniform(0, 1, (3, 8, 8, 3)).astype(np.float32)


def block(x, name, quantizer, kwargs, shared_range=None, weights="binary_mean_scaling"):
    x = QuantizedConv2D(4, 3, padding="same", use_bias=False, weight_quantizer=weights, name=name)(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return QuantizedActivation(quantizer, kwargs, shared_range=shared_range, name=f"{name}_act")(x)


def tied_network(tie=True, quantizer="pact", top=2.0):
    """Two branches (one through max pooling and space-to-depth) joined by a concatenation, a binary convolution
    without a threshold table (batch norm, leaky ReLU), then a float 1x1 output; learned ranges 1.5 (or 2.0)."""
    inputs = keras.Input((8, 8, 3), name="images")
    joined = SharedRange() if tie else None
    a = block(inputs, "a", quantizer, {"bit": 2, "max_value": top}, joined)
    a = keras.layers.MaxPooling2D(2, name="pool")(a)
    b = SpaceToDepth(2, name="s2d")(block(inputs, "b", quantizer, {"bit": 2, "max_value": top}, joined))
    x = keras.layers.Concatenate(name="concat")([a, b])
    x = QuantizedConv2D(6, 3, padding="same", use_bias=False, weight_quantizer="binary_mean_scaling", name="last")(x)
    x = keras.layers.BatchNormalization(name="last_bn")(x)
    x = keras.layers.LeakyReLU(0.1, name="last_act")(x)
    model = keras.Model(inputs, QuantizedConv2D(5, 1, use_bias=True, name="output")(x))
    rng = np.random.default_rng(1)
    for layer in model.layers:  # batch norms that move the values, as training leaves them
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.set_weights([rng.uniform(0.5, 2.0, 4 if layer.name != "last_bn" else 6).astype(np.float32)
                               for _ in range(4)])
    for layer in model.layers:
        if isinstance(layer, QuantizedActivation) and layer.learned_value is not None:
            layer.learned_value.assign(1.5)
    return model


def frozen_output(graph_def):
    return np.concatenate([graph.run_graph_def(graph_def, image[None], (OUTPUT_NAME,))[OUTPUT_NAME]
                           for image in IMAGES])


def test_a_tied_learned_range_moves_to_two_with_the_same_outputs():
    model = tied_network()
    ranges = converter_ranges.converter_values(model)
    assert ranges.moved == {"a_act": 0.75, "b_act": 0.75} and not ranges.kept
    assert ranges.scaled_layers == {name: 0.75 for name in ("a_bn", "b_bn", "a_act", "b_act", "pool", "s2d", "concat")}
    graph_def = build_graph_def(model, (8, 8), values=ranges.values)
    nodes = {node.name: node for node in graph_def.node}
    arguments = [node_arguments(nodes, node)[1] for node in graph_def.node if node.op == "QTZ_linear_mid_tread_half"]
    assert arguments == [{"bit": 2, "max_value": 2.0}] * 2
    np.testing.assert_allclose(frozen_output(graph_def), model(IMAGES).numpy(), atol=1e-5)
    assert float(model.get_layer("a_act").learned_value.numpy()) == 1.5  # the model itself is unchanged
    assert not converter_limit_warnings(graph_def)


def test_without_the_move_the_converter_warning_names_the_convolution_and_the_range():
    graph_def = build_graph_def(tied_network(), (8, 8))
    (message,) = converter_limit_warnings(graph_def)
    assert message.startswith("last/") and "as if its input had max_value 2.0 and 2 bits" in message
    assert "'max_value': 1.5" in message


def test_ranges_already_at_two_and_fixed_quantizers_are_left_alone():
    for model in (tied_network(quantizer="linear_mid_tread_half"), tied_network(top=2.0)):
        for layer in model.layers:
            if isinstance(layer, QuantizedActivation) and layer.learned_value is not None:
                layer.learned_value.assign(2.0)
        ranges = converter_ranges.converter_values(model)
        assert not ranges.moved and not ranges.kept
        assert all(np.array_equal(ranges.values[id(v)], v.numpy()) for v in model.weights)


def test_untied_ranges_joined_by_a_concatenation_are_kept_with_the_reason():
    ranges = converter_ranges.converter_values(tied_network(tie=False))
    assert not ranges.moved
    assert set(ranges.kept) == {"a_act", "b_act"}
    assert "concat also joins" in ranges.kept["a_act"] and "whose range differs" in ranges.kept["a_act"]


@pytest.mark.parametrize("weights", ["binary_mean_scaling", "binary_channel_wise_mean_scaling", "ternary", None])
def test_every_weight_quantizer_absorbs_the_scale_in_its_kernel(weights):
    inputs = keras.Input((8, 8, 3))
    x = block(inputs, "a", "lsq", {"bit": 2, "max_value": 2.0}, weights=None)
    model = keras.Model(inputs, QuantizedConv2D(4, 1, weight_quantizer=weights, name="next")(x))
    model.get_layer("a_act").learned_value.assign(2.6)
    ranges = converter_ranges.converter_values(model)
    assert ranges.moved == {"a_act": pytest.approx(1.3)}
    reference = model(IMAGES).numpy()
    graph_def = build_graph_def(model, (8, 8), values=ranges.values)
    np.testing.assert_allclose(frozen_output(graph_def), reference, rtol=1e-5, atol=1e-5)


def test_a_range_read_by_something_else_than_a_convolution_is_kept():
    inputs = keras.Input((8, 8, 3))
    x = block(inputs, "a", "pact", {"bit": 2, "max_value": 2.0})
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D(name="gap")(x))
    model.get_layer("a_act").learned_value.assign(1.2)
    ranges = converter_ranges.converter_values(model)
    assert ranges.kept == {"a_act": "gap (GlobalAveragePooling2D) reads a_act's values"}
