"""The layer-type table (lmnet.layers.forms): every network layer is described; a new layer type is one entry."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from lmnet import profiling
from lmnet.export.formats import baked_model
from lmnet.export.graph import build_graph_def
from lmnet.errors import LmnetError
from lmnet.layers import forms
from lmnet.layers.forms import FORMS, UNKNOWN, LayerForm, elementwise_cost, form_of
from lmnet.quantizations import binary_channel_wise_mean_scaling, linear_mid_tread_half
from tests.test_network_harness import NETWORKS


def small_network(cls, image_size=None):
    """A network of class ``cls`` at ``image_size`` (default: the smallest square size it takes, at least 16x16:
    tests that execute it layer by layer in NumPy, with qonnx's executor, cost time with every pixel), with the
    quantizers it needs."""
    kwargs = {}
    if cls.quantized:
        kwargs = dict(activation_quantizer=linear_mid_tread_half,
                      activation_quantizer_kwargs={"bit": 2, "max_value": 2.0},
                      weight_quantizer=binary_channel_wise_mean_scaling, weight_quantizer_kwargs={})
    image_size = image_size or [max(16, cls.size_divisor)] * 2
    return cls(classes=["a", "b", "c"], image_size=image_size, batch_size=1, **kwargs)


@pytest.mark.parametrize("module, cls", NETWORKS, ids=[module for module, _ in NETWORKS])
def test_every_layer_of_every_network_has_a_form_with_a_graph(module, cls):
    model = small_network(cls).model
    operations = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    missing = [f"{layer.name} ({type(layer).__name__})" for layer in operations
               if form_of(layer) is UNKNOWN or form_of(layer).graph is None]
    assert not missing, f"{cls.__name__}: layers without a described graph form: {missing}"


def test_no_entry_is_shadowed_by_an_earlier_base_class():
    for index, later in enumerate(FORMS):
        for earlier in FORMS[:index]:
            assert not issubclass(later.layer_class, earlier.layer_class), (
                f"{later.layer_class.__name__} comes after its base {earlier.layer_class.__name__}: never matched")


class Doubling(keras.layers.Layer):
    """A layer type lmnet does not know: doubles its input."""

    def call(self, inputs):
        return inputs * 2.0


def doubling_model():
    inputs = keras.Input((8, 8, 3), name="images")
    outputs = keras.layers.Conv2D(4, 3, padding="same", name="conv")(Doubling(name="double")(inputs))
    return keras.Model(inputs, outputs)


def test_a_layer_type_without_an_entry_is_refused_by_the_graph_export_by_name():
    with pytest.raises(LmnetError, match=r"no graph form for layer double \(Doubling\)"):
        build_graph_def(doubling_model(), (8, 8))


def test_a_new_layer_type_is_one_entry_that_export_profiling_and_int8_all_read():
    form = LayerForm(Doubling, elementwise_cost, lambda context, layer, x: tf.multiply(x, 2.0, name="Mul"))
    forms.register(form)
    try:
        model = doubling_model()
        image = np.random.default_rng(0).uniform(-1, 1, (1, 8, 8, 3)).astype(np.float32)
        graph_def = build_graph_def(model, (8, 8))
        assert any(node.op == "Mul" and node.name.startswith("double/") for node in graph_def.node)
        graph_output = _run_graph_def(graph_def, image)
        np.testing.assert_allclose(graph_output, model(image).numpy(), rtol=1e-5, atol=1e-5)
        layer = profiling.profile_layer(model.get_layer("double"))
        assert (layer.macs, layer.flops) == (0, 8 * 8 * 3)
        np.testing.assert_allclose(baked_model(model)(image).numpy(), model(image).numpy(), rtol=1e-6)
    finally:
        forms.unregister(form)
    assert form_of(Doubling()) is UNKNOWN


def _run_graph_def(graph_def, image):
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    with tf.compat.v1.Session(graph=graph) as session:
        return session.run("output:0", {"images_placeholder:0": image})
