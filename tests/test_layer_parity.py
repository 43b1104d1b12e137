"""The per-layer parity report (lmnet.export.layer_parity) names the layer where a form starts to differ."""
import os

import keras
import numpy as np
import pytest

from lmnet.export import formats, graph, layer_parity, parity, qonnx
from lmnet.networks.object_detection.lm_fyolo_quantize import LMFYoloQuantize
from tests.test_export_qonnx import randomized, without_exact_zeros
from tests.test_layer_forms import small_network

CORRUPTED = "block_5"


@pytest.fixture(scope="module")
def models():
    """A quantized detector, a copy with one convolution's kernel corrupted, images and the Keras reference."""
    network = small_network(LMFYoloQuantize)
    model = without_exact_zeros(randomized(network.model))
    corrupted = keras.models.clone_model(model)
    corrupted.set_weights(model.get_weights())
    kernel = corrupted.get_layer(CORRUPTED).kernel
    kernel.assign(-kernel.numpy())  # every sign flipped: the binary kernel changes everywhere
    images = np.random.RandomState(6).uniform(-1, 1, (2, *network.image_size, 3)).astype(np.float32)
    return model, corrupted, network.image_size, images, layer_parity.keras_layer_outputs(model, images)


def _report(model, reference, traced, form):
    return layer_parity.layer_report(model, reference, traced, form)


def _exact_traces(exported, image_size, images, folder):
    """``(form, per-layer outputs)`` of ``exported`` as the frozen graph and as QONNX (the forms with layer maps)."""
    nodes = {}
    graph_def = graph.build_graph_def(exported, image_size, nodes)
    path = qonnx.save_qonnx(exported, image_size, str(folder / "model_qonnx.onnx"))
    return (("pb", layer_parity.trace_pb(graph_def, nodes, images)),
            ("qonnx", layer_parity.trace_qonnx(path, images)))


def test_the_true_forms_pass_layer_by_layer(models, tmp_path):
    model, _, image_size, images, reference = models
    for form, traced in _exact_traces(model, image_size, images, tmp_path):
        report = _report(model, reference, traced, form)
        assert report["first_over_tolerance"] is None, form
        quantized = [record for record in report["layers"] if record["level_mismatch"] is not None]
        assert quantized and all(record["level_mismatch"] == 0 for record in quantized), form
        assert len(report["layers"]) >= len(model.layers) - 3  # every layer but the input (and pruned nodes)


def test_a_corrupted_layer_is_named_in_pb_and_qonnx(models, tmp_path):
    model, corrupted, image_size, images, reference = models
    for form, traced in _exact_traces(corrupted, image_size, images, tmp_path):
        report = _report(model, reference, traced, form)
        assert report["first_over_tolerance"]["layer"] == CORRUPTED, form
        failed = parity.failures({"layers": {form: report}, "max_abs_diff": {form: 1.0}}, 1.0)
        assert failed[form].startswith(f"{form} misses its tolerance first at layer {CORRUPTED} (max |diff| ")


def test_a_corrupted_layer_is_named_at_the_next_checkpoint_in_tflite_and_onnx(models, tmp_path):
    """Converters fuse layers, so probes show the activations: the corrupted convolution's own activation."""
    model, corrupted, image_size, images, reference = models
    names = layer_parity.checkpoint_layers(corrupted)
    assert f"{CORRUPTED}_act" in names and names[-1] == model.layers[-1].name
    probe = layer_parity.probe_model(corrupted, names)
    tflite_path, onnx_path = str(tmp_path / "probe.tflite"), str(tmp_path / "probe.onnx")
    with open(tflite_path, "wb") as stream:
        stream.write(formats.tflite_float(probe, image_size))
    formats.save_onnx(probe, image_size, onnx_path)
    for form, traced in (("tflite_float", layer_parity.trace_tflite(tflite_path, images, names)),
                         ("onnx", layer_parity.trace_onnx(onnx_path, images, names))):
        assert set(traced) == set(names), form
        report = _report(model, reference, traced, form)
        first = report["first_over_tolerance"]
        assert first["layer"] == f"{CORRUPTED}_act" and first["level_mismatch"] > 0.05, form
        before = [record for record in report["layers"] if record["layer"] in names[:names.index(first["layer"])]]
        assert before and all(record["max_abs_diff"] <= 1e-5 * record["scale"] for record in before), form
    assert os.path.getsize(tflite_path) > 0


def test_failures_name_the_output_and_the_int8_drop():
    result = {"max_abs_diff": {"saved_model": 0.5, "onnx": 1e-7}, "layers": {},
              "int8_task": {"mAP@0.5_change": -0.2}}
    failed = parity.failures(result, 1.0)
    assert failed["saved_model"] == "saved_model misses its tolerance at the output (max |diff| 0.5)"
    assert "onnx" not in failed
    assert failed["tflite_int8"] == f"tflite_int8 loses 0.200 of its task metric (limit {parity.INT8_MAX_DROP})"
    assert parity.failures({"max_abs_diff": {"saved_model": 0.5}}, 10000.0) == {}  # relative to the output range


def test_the_int8_probe_maps_every_output_to_its_layer(models, tmp_path):
    """int8 TFLite lists its outputs in another order than float TFLite; each still lands on its own layer."""
    model, _, image_size, images, reference = models
    names = layer_parity.checkpoint_layers(model)
    path = str(tmp_path / "probe_int8.tflite")
    with open(path, "wb") as stream:
        stream.write(formats.tflite_int8(layer_parity.probe_model(model, names), image_size, images))
    traced = layer_parity.trace_tflite(path, images, names)
    assert {name: traced[name].shape for name in names} == {name: reference[name].shape for name in names}
    report = _report(model, reference, traced, "tflite_int8")
    assert len(report["layers"]) == len(names) and report["tolerance"] is None
    first = report["layers"][0]
    assert first["layer"] == names[0] and first["level_mismatch"] < 0.05  # int8 drifts from the first layer on


def test_a_top1_flip_reports_the_keras_score_gap_it_crossed():
    keras_scores = np.array([[0.50, 0.49, 0.01], [0.9, 0.05, 0.05], [0.2, 0.7, 0.1]], np.float32)
    form_scores = np.array([[0.49, 0.50, 0.01], [0.9, 0.05, 0.05], [0.2, 0.7, 0.1]], np.float32)
    result = parity.classification_change(keras_scores, form_scores, [0, 0, 1], form="hls4ml")
    assert result["top1_agreement"] == pytest.approx(2 / 3)
    assert result["largest_margin_flipped"] == pytest.approx(0.01, abs=1e-6)
    assert result["hls4ml_accuracy"] == pytest.approx(2 / 3) and result["float_accuracy"] == 1.0
    assert parity.classification_change(keras_scores, keras_scores, [0, 0, 1])["largest_margin_flipped"] == 0.0
