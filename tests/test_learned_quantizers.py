"""PACT and LSQ: the forward of linear_mid_tread_half with a learned top, their gradients, and their export
as linear_mid_tread_half with the learned value (the form every converter already reads)."""
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from lmnet import config as config_module, experiment
from lmnet.export import exporter, graph
from lmnet.checkpoint_io import weight_map
from lmnet.layers import QuantizedActivation, QuantizedConv2D, SharedRange
from lmnet.networks.object_detection.lm_fyolo_quantize import LMFYoloQuantize
from lmnet.networks.object_detection.lm_tiny_yolo_quantize import LMTinyYoloQuantize
from lmnet.networks.object_detection.yolo_v2_quantize import YoloV2Quantize
from lmnet.quantizations import binary_mean_scaling, linear_mid_tread_half, lsq, pact
from lmnet.training.trainer import Trainer
from tests.conftest import patch_output_and_data_dirs, write_tiny_config

X = tf.constant([-0.5, 0.1, 0.4, 0.7, 1.0, 1.6, 2.0, 2.5, 3.0])


@pytest.mark.parametrize("quantizer", [pact, lsq], ids=lambda q: q.name)
def test_the_forward_is_linear_mid_tread_halfs(quantizer):
    top = tf.constant(1.7)
    expected = linear_mid_tread_half(X, bit=2, max_value=1.7)
    np.testing.assert_array_equal(quantizer.call_learned(X, top, bit=2).numpy(), expected.numpy())


def gradients(quantizer, top, upstream):
    top = tf.Variable(top)
    x = tf.Variable(X)
    with tf.GradientTape() as tape:
        y = quantizer.call_learned(x, top, bit=2)
        loss = tf.reduce_sum(y * upstream)
    return [g.numpy() for g in tape.gradient(loss, [x, top])]


def test_pact_gradient_of_the_clip_level_counts_the_clipped_inputs():
    upstream = np.linspace(0.5, 1.3, 9).astype(np.float32)
    dx, dtop = gradients(pact, 2.0, upstream)
    np.testing.assert_array_equal(dx, upstream * ((X.numpy() > 0) & (X.numpy() < 2.0)))
    assert dtop == pytest.approx(upstream[X.numpy() >= 2.0].sum())


def test_lsq_step_gradient_by_hand():
    upstream = np.ones(9, np.float32)
    _, dtop = gradients(lsq, 1.5, upstream)  # Q = 3, s = 0.5
    v = X.numpy() / 0.5
    step = np.where(v <= 0, 0.0, np.where(v >= 3, 3.0, np.round(v) - v))
    g = 1 / np.sqrt(1 * 3)  # N = values per sample = the product of the axes after the first: 1 for a 1-D input
    assert dtop == pytest.approx(g / 3 * step.sum(), rel=1e-5)


@pytest.mark.parametrize("name", ["pact", "lsq"])
def test_the_layer_learns_its_top_and_exports_as_linear_mid_tread_half(name):
    layer = QuantizedActivation(name, {"bit": 2, "max_value": 1.0})
    inputs = keras.Input((4,))
    model = keras.Model(inputs, layer(inputs))
    assert [w.path.split("/")[-1] for w in model.trainable_weights] == ["max_value"]
    x = np.full((8, 4), 3.0, np.float32)  # everything above the top: the top must grow to fit the target
    optimizer = keras.optimizers.SGD(0.05)
    for _ in range(20):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x) - 2.5))
        optimizer.apply(tape.gradient(loss, model.trainable_weights), model.trainable_weights)
    learned = float(layer.learned_value.numpy())
    assert learned > 1.2
    assert layer.exported() == ("linear_mid_tread_half", {"bit": 2, "max_value": pytest.approx(learned)})


@pytest.mark.timeout(900)
def test_a_pact_network_trains_and_exports_with_its_learned_levels(tmp_path):
    patch = patch_output_and_data_dirs(tmp_path)
    try:
        from executor import train
        extra = 'from lmnet.quantizations import pact\nNETWORK.ACTIVATION_QUANTIZER = pact\n'
        train.run(write_tiny_config(str(tmp_path), max_steps=6, save_steps=6, test_steps=6, extra=extra), "pact",
                  progress=False)
        result = exporter.export_experiment("pact", images=[], metric_samples=16, calibration_samples=8,
                                            log=lambda line: None)
    finally:
        patch.undo()
    meta = json.dumps(result.parity)
    for form in ("pb", "saved_model", "onnx", "qonnx"):
        assert result.parity["max_abs_diff"][form] <= 1e-4, meta
    graph = tf.compat.v1.GraphDef()
    with open(os.path.join(result.directory, exporter.GRAPH_FILE), "rb") as stream:
        graph.ParseFromString(stream.read())
    ops = {node.op for node in graph.node} | {f.signature.name for f in graph.library.function}
    assert any("QTZ_linear_mid_tread_half" in op for op in ops) and not any("pact" in op for op in ops)


def test_a_run_with_learned_ranges_resumes_bitwise(tmp_path, environment):
    from tests.test_training import train, weights
    extra = 'from lmnet.quantizations import lsq\nNETWORK.ACTIVATION_QUANTIZER = lsq\nEMA_DECAY = 0.9\n'

    def config(name, steps):
        return write_tiny_config(str(tmp_path), name=name, max_steps=steps, save_steps=3, test_steps=6, extra=extra)
    straight, _ = train(environment, config("a.py", 6), "a")
    train(environment, config("b.py", 3), "b")
    resumed, _ = train(environment, config("b.py", 6), "b")
    expected, actual = weights(straight), weights(resumed)
    assert "conv1_act/max_value" in expected and expected["conv1_act/max_value"] != 2.0  # it moved
    for name in expected:
        np.testing.assert_array_equal(actual[name], expected[name], err_msg=name)
    for name, value in straight.weight_average.averages.items():
        np.testing.assert_array_equal(resumed.weight_average.averages[name].numpy(), value.numpy(), err_msg=name)


def test_learned_ranges_start_from_the_config_when_the_pretrained_checkpoint_has_none(tmp_path, environment):
    from tests.test_training import train, weights
    source, _ = train(environment, write_tiny_config(str(tmp_path), name="src.py", max_steps=5), "source")
    extra = f"""
from lmnet.quantizations import pact
NETWORK.ACTIVATION_QUANTIZER = pact
NETWORK.ACTIVATION_QUANTIZER_KWARGS = {{"bit": 2, "max_value": 1.5}}
IS_PRETRAIN = True
PRETRAIN_DIR = {environment.experiment("source").checkpoints!r}
PRETRAIN_FILE = {os.path.basename(source.keeper.latest)!r}
"""
    config = config_module.load(write_tiny_config(str(tmp_path), name="dst.py", max_steps=5, extra=extra))
    paths = environment.experiment("target")
    experiment.prepare(config, None, paths, log=lambda *_: None)
    lines = []
    trainer = Trainer(config, paths, environment.data_dir, progress=False, log=lines.append)
    trainer.restore()
    expected, actual = weights(source), weights(trainer)
    assert actual["conv1_act/max_value"] == 1.5 and "conv1_act/max_value" not in expected
    np.testing.assert_array_equal(actual["conv1/kernel"], expected["conv1/kernel"])
    assert any("learned quantizer ranges not in the pre-trained checkpoint" in line and "conv1_act/max_value" in line
               for line in lines)


def concatenated_learned_ranges():
    """Two conv -> batch norm -> pact branches of an 8x8 image, concatenated, then a binary 1x1 convolution; the
    branches' learned ranges differ (2.0 and 1.5), as training leaves them."""
    inputs = keras.Input((8, 8, 3), name="images")
    branches = []
    for name, top in (("a", 2.0), ("b", 1.5)):
        x = QuantizedConv2D(4, 3, padding="same", use_bias=False, weight_quantizer="binary_mean_scaling",
                            name=f"{name}_conv")(inputs)
        x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
        layer = QuantizedActivation("pact", {"bit": 2, "max_value": 2.0}, name=f"{name}_act")
        branches.append(layer(x))
        layer.learned_value.assign(top)
    x = keras.layers.Concatenate(name="concat")(branches)
    outputs = QuantizedConv2D(4, 1, use_bias=False, weight_quantizer="binary_mean_scaling", name="conv")(x)
    return keras.Model(inputs, outputs)


def test_the_frozen_graph_warns_that_the_converter_cannot_concatenate_two_learned_ranges():
    graph_def = graph.build_graph_def(concatenated_learned_ranges(), (8, 8))
    messages = graph.converter_limit_warnings(graph_def)
    assert len(messages) == 1 and messages[0].startswith("concat/ConcatV2: concatenates quantized activations of "
                                                         "different scales")
    assert "'max_value': 1.5" in messages[0] and "computes wrong outputs" in messages[0]


def test_a_shared_range_is_one_variable_owned_by_the_first_layer_and_learns_from_every_use():
    joined = SharedRange()
    inputs = keras.Input((4,))
    first = QuantizedActivation("pact", {"bit": 2, "max_value": 1.0}, shared_range=joined, name="first")
    second = QuantizedActivation("pact", {"bit": 2, "max_value": 1.0}, shared_range=joined, name="second")
    model = keras.Model(inputs, keras.layers.Concatenate()([first(inputs), second(inputs * 2.0)]))
    assert list(weight_map(model)) == ["first/max_value"]
    assert second.learned_value is None and second.range_variable() is first.learned_value
    assert (first.range_owner, second.range_owner) == ("first", "first")
    x = np.full((2, 4), 3.0, np.float32)  # both uses clip: PACT's gradient counts the clipped inputs of both
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(x))
    (gradient,) = tape.gradient(loss, model.trainable_weights)
    assert float(gradient) == 16.0
    first.learned_value.assign(1.25)
    assert first.exported() == second.exported() == ("linear_mid_tread_half", {"bit": 2, "max_value": 1.25})


def test_a_shared_range_refuses_layers_with_different_quantizer_arguments():
    joined = SharedRange()
    inputs = keras.Input((4,))
    QuantizedActivation("pact", {"bit": 2, "max_value": 1.0}, shared_range=joined, name="first")(inputs)
    with pytest.raises(ValueError, match="second: shares the learned range of first but quantizes with pact"):
        QuantizedActivation("pact", {"bit": 3, "max_value": 1.0}, shared_range=joined, name="second")(inputs)


@pytest.mark.parametrize("cls, joined", [
    (LMTinyYoloQuantize, ["block_5_act", "side_4_act"]),
    (LMFYoloQuantize, ["block_7_act", "block_8_act", "side_6_act", "side_5_act", "side_4_act"]),
    (YoloV2Quantize, ["conv20_act", "conv21_act"])], ids=lambda value: getattr(value, "__name__", ""))
def test_detectors_tie_the_learned_ranges_their_concatenation_joins(cls, joined):
    network = cls(["a", "b"], (64, 64), activation_quantizer=pact, activation_quantizer_kwargs={"bit": 2},
                  weight_quantizer=binary_mean_scaling, anchors=[[1.0, 1.0]])
    model = network.model
    owners = {name: model.get_layer(name).range_owner for name in joined}
    assert set(owners.values()) == {joined[0]}, owners
    learned = [key for key in weight_map(model) if key.endswith("/max_value")]
    assert f"{joined[0]}/max_value" in learned and not set(f"{name}/max_value" for name in joined[1:]) & set(learned)
    model.get_layer(joined[0]).learned_value.assign(1.3)  # as training moves it: every joined layer follows
    assert [model.get_layer(name).exported()[1]["max_value"] for name in joined] == [pytest.approx(1.3)] * len(joined)
    graph_def = graph.build_graph_def(model, (64, 64))
    assert not graph.concat_scale_warnings({node.name: node for node in graph_def.node})
