"""The hls4ml export: the QONNX model prepared for hls4ml's ONNX front end (judged by qonnx's executor), then
converted by hls4ml and compiled with g++ into its C++ emulation, whose numbers agree with the Keras model."""
import json
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest

from lmnet.errors import ConfigError
from lmnet.export import hls4ml_graph, hls4ml_project, layer_parity, qonnx_checks
from lmnet.export.qonnx import save_qonnx
from lmnet.layers.quantized import QuantizedActivation, QuantizedConv2D
from tests.test_export_qonnx import keras_layer_outputs, randomized, without_exact_zeros
from tests.test_layer_forms import small_network
from tests.test_learned_quantizers import concatenated_learned_ranges
from tests.test_network_harness import NETWORKS

pytest.importorskip("qonnx", reason="qonnx is a pinned dependency of the QONNX export")
pytest.importorskip("hls4ml", reason="hls4ml is a pinned dependency of the hls4ml export")
from qonnx.core.onnx_exec import execute_onnx  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NO_COMPILER = shutil.which("g++") is None
#: YoloV2Quantize's 1024-channel layers make qonnx's executor slow (70 s); its preparation was checked by hand.
PREPARED = [(module, cls) for module, cls in NETWORKS if cls.quantized and cls.__name__ != "YoloV2Quantize"]


def exported(network, folder):
    """``network`` with spread batch-norm statistics, its QONNX file and two input images."""
    model = without_exact_zeros(randomized(network.model))
    path = save_qonnx(model, network.image_size, os.path.join(folder, "model_qonnx.onnx"))
    images = np.random.RandomState(3).uniform(-1, 1, (2, *network.image_size, 3)).astype(np.float32)
    return model, path, images


@pytest.mark.parametrize("module, cls", PREPARED, ids=[cls.__name__ for _, cls in PREPARED])
def test_the_prepared_model_computes_every_activation_code_of_the_keras_model(module, cls, tmp_path):
    model, path, images = exported(small_network(cls), str(tmp_path))
    prepared = hls4ml_graph.prepare_for_hls4ml(qonnx_checks.load(path))
    op_types = {node.op_type for node in prepared.graph.node}
    assert not op_types & {"SpaceToDepth", "GlobalAveragePool", "Identity", "Gemm"}, "ops hls4ml 1.3.0 mishandles"
    assert all(len(node.input) == 2 for node in prepared.get_nodes_by_op_type("Concat"))
    assert prepared.get_tensor_shape(prepared.graph.input[0].name) == [1, *images.shape[1:]]  # NHWC input

    activations = hls4ml_project.activation_map(qonnx_checks.load(path), prepared)
    quantized = [layer.name for layer in model.layers if isinstance(layer, QuantizedActivation)]
    assert sorted(layer for layer, _ in activations.values()) == sorted(quantized)
    expected = keras_layer_outputs(model, images[:1])
    context = execute_onnx(prepared, {prepared.graph.input[0].name: images[:1]}, return_full_exec_context=True)
    for tensor, (layer, spacing) in activations.items():
        quant = prepared.find_producer(tensor)
        assert prepared.get_initializer(quant.input[1]) == 1  # integer codes
        np.testing.assert_array_equal(context[tensor], np.round(expected[layer] / spacing), err_msg=layer)
    output = expected[model.layers[-1].name]
    got = context[prepared.graph.output[0].name].reshape(output.shape)
    np.testing.assert_allclose(got, output, atol=1e-5 * max(1.0, float(np.abs(output).max())), rtol=0)


def test_a_pattern_the_preparation_cannot_rewrite_is_named(tmp_path):
    inputs = keras.Input((8, 8, 3), name="images")
    codes = QuantizedActivation("linear_mid_tread_half", {"bit": 2, "max_value": 2.0}, name="input_act")(inputs)
    outputs = QuantizedConv2D(4, 3, padding="same", use_bias=False, weight_quantizer="binary_mean_scaling",
                              name="conv")(codes)
    path = save_qonnx(keras.Model(inputs, outputs), (8, 8), str(tmp_path / "model_qonnx.onnx"))
    with pytest.raises(hls4ml_graph.Hls4mlGraphError, match=r"Quant_0: not fed by a BatchNormalization"):
        hls4ml_graph.prepare_for_hls4ml(qonnx_checks.load(path))


def test_learned_ranges_that_differ_at_a_concatenation_are_refused_with_the_reason(tmp_path):
    path = save_qonnx(concatenated_learned_ranges(), (8, 8), str(tmp_path / "model_qonnx.onnx"))
    reason = r"concatenates activations of different scales .*pact or lsq.*SharedRange.*or train the network with"
    with pytest.raises(hls4ml_graph.Hls4mlGraphError, match=reason):
        hls4ml_graph.prepare_for_hls4ml(qonnx_checks.load(path))


def test_a_missing_compiler_stops_the_export_before_anything_is_written(monkeypatch, tmp_path):
    from lmnet.export.exporter import export_experiment
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ConfigError, match="compiles its C.. emulation with g.., which is not on PATH"):
        hls4ml_project.check_toolchain()
    with pytest.raises(ConfigError, match="g.., which is not on PATH"):  # checked before the experiment is opened
        export_experiment("no_such_experiment", formats="qonnx,hls4ml")


@pytest.mark.slow
@pytest.mark.skipif(NO_COMPILER, reason="hls4ml's C++ emulation needs g++")
def test_the_compiled_detector_emulation_is_exact_and_its_report_names_a_corrupted_layer(tmp_path):
    """LMFYoloQuantize (SpaceToDepth side paths, five-input concatenation) through hls4ml and g++, built from a
    copy with one convolution's kernel corrupted: layer by layer it equals that copy, and against the true model
    its report names the activation after the corrupted convolution."""
    from lmnet.networks.object_detection.lm_fyolo_quantize import LMFYoloQuantize
    model = without_exact_zeros(randomized(small_network(LMFYoloQuantize, image_size=[32, 32]).model))
    corrupted = keras.models.clone_model(model)
    corrupted.set_weights(model.get_weights())
    corrupted.get_layer("block_5").kernel.assign(-model.get_layer("block_5").kernel.numpy())
    path = save_qonnx(corrupted, [32, 32], str(tmp_path / "model_qonnx.onnx"))
    project = hls4ml_project.build_project(path, str(tmp_path / "prj"), corrupted.output_shape[1:],
                                           corrupted.layers[-1].name)
    assert os.path.exists(tmp_path / "prj" / hls4ml_project.PREPARED_FILE)
    assert os.path.exists(tmp_path / "prj" / "firmware" / "myproject.cpp")
    images = np.random.RandomState(3).uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    expected = corrupted(images, training=False).numpy()
    got = np.concatenate([project.run(image[None]) for image in images])
    np.testing.assert_allclose(got, expected, atol=1e-4 * max(1.0, float(np.abs(expected).max())), rtol=0)

    traced = project.layer_outputs(images)
    own = layer_parity.layer_report(corrupted, layer_parity.keras_layer_outputs(corrupted, images), traced, "hls4ml")
    quantized = {layer.name for layer in corrupted.layers if isinstance(layer, QuantizedActivation)}
    assert {record["layer"] for record in own["layers"]} == quantized | {corrupted.layers[-1].name}
    assert own["first_over_tolerance"] is None
    assert all(record["level_mismatch"] == 0 for record in own["layers"] if record["layer"] in quantized)
    true = layer_parity.layer_report(model, layer_parity.keras_layer_outputs(model, images), traced, "hls4ml")
    assert true["first_over_tolerance"]["layer"] == "block_5_act"


def _example_run(tmp_path):
    """The classification example trained by its config and exported with the hls4ml project.

    CI shrinks the run to fit its time, keeping the example's network, quantizers, pre-processing and export:
    20 training steps of 16 images (the whole cosine schedule; the scores stay nearly flat) on 512 training
    and 64 validation images at 16x16 instead of 32x32 (the emulation costs about 1 s per image instead of 4),
    and 8 validation images through the emulation. With ``LMNET_HLS4ML_FULL_EXAMPLE=1``: the config as it
    is, 1,000 steps of 64 images at 32x32 (validation accuracy about 0.98), and 256 images, about 30 minutes
    on 2 cores.
    """
    full = os.environ.get("LMNET_HLS4ML_FULL_EXAMPLE") == "1"
    env = dict(os.environ, OUTPUT_DIR=str(tmp_path / "saved"), DATA_DIR=str(tmp_path / "dataset"),
               TF_CPP_MIN_LOG_LEVEL="3")
    train = [sys.executable, os.path.join(REPO, "executor", "train.py"), "-c",
             os.path.join(REPO, "configs", "example", "classification.py"), "-i", "example"]
    if not full:
        train += ["--set", "MAX_STEPS=20", "--set", "SAVE_CHECKPOINT_STEPS=20", "--set", "TEST_STEPS=20", "--set",
                  "NETWORK.LEARNING_RATE_KWARGS={initial_learning_rate: 0.002, decay_steps: 20, alpha: 0.01}",
                  "--set", "BATCH_SIZE=16", "--set", "IMAGE_SIZE=[16, 16]",
                  "--set", "DATASET.OPTIONS={num_train: 512, num_validation: 64}"]
    result = subprocess.run(train, capture_output=True, text=True, env=env, timeout=3600)
    assert result.returncode == 0, result.stderr[-3000:]
    samples = 256 if full else 8
    export = [sys.executable, os.path.join(REPO, "executor", "export.py"), "-i", "example",
              "--formats", "hls4ml", "--emulation_samples", str(samples)]  # QONNX goes to a temporary file
    result = subprocess.run(export, capture_output=True, text=True, env=env, timeout=3600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout, samples


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.skipif(NO_COMPILER, reason="hls4ml's C++ emulation needs g++")
def test_the_trained_example_classifier_agrees_with_its_hls4ml_emulation(tmp_path):
    stdout, samples = _example_run(tmp_path)
    folder = os.path.join(tmp_path, "saved", "example", "export")
    (parity_path,) = [os.path.join(root, "parity.json") for root, _, files in os.walk(folder) if "parity.json" in files]
    with open(parity_path) as stream:
        parity = json.load(stream)
    task = parity["hls4ml_task"]
    assert task["num_samples"] == samples
    if samples >= 256:  # the classification example trained by its config
        assert task["top1_agreement"] >= 0.99, task
    else:  # 20 steps leave the class scores nearly flat: a flip is allowed only on a near-tie
        assert task["largest_margin_flipped"] <= 2e-3, task
    report = parity["layers"]["hls4ml"]
    assert report["first_over_tolerance"] is None and not parity["failed"]
    layers = {record["layer"]: record for record in report["layers"]}
    assert {"conv1_act", "conv2_act", "conv3_act", "conv4_act", "conv5_act", "output"} <= set(layers)
    assert all(record["level_mismatch"] == 0 for name, record in layers.items() if name != "output")
    assert layers["output"]["max_abs_diff"] < 1e-3
    assert "hls4ml top1_agreement" in stdout
    project = os.path.join(os.path.dirname(parity_path), "hls4ml_prj")
    assert os.path.exists(os.path.join(project, "firmware", "myproject.cpp"))
