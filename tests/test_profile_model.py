"""Profiling: exact per-layer counts (hand-computed), bit widths, -uql, markdown/JSON agreement, the CLI."""
import json
import os

import keras
import pytest
from click.testing import CliRunner

from executor import profile_model as profile_executor, train as train_executor
from lmnet import config as config_module
from lmnet.layers import QuantizedActivation, QuantizedConv2D
from lmnet.profiling import ProfileError, profile_config, profile_keras_model, to_markdown
from lmnet.quantizations import Parameter, Quantizer, registry
from tests.conftest import write_tiny_config

# LmnetV1Quantize at 16x16x3, 6 classes, binary weights (1 bit) on conv1-conv6, 2-bit activations.
# kernel elements: conv1 3*3*3*32, conv2 3*3*32*64, conv3 3*3*256*128, conv4 3*3*128*64,
# conv5 3*3*256*128, conv6 1*1*512*64, conv7 1*1*64*6 (+6 bias, float).
KERNELS = {"conv1": 864, "conv2": 18432, "conv3": 294912, "conv4": 73728, "conv5": 294912, "conv6": 32768,
           "conv7": 384}
# output elements x taps: conv1 16*16*32 x 27, conv2 16*16*64 x 288, conv3 8*8*128 x 2304, conv4 8*8*64 x 1152,
# conv5 4*4*128 x 2304, conv6 2*2*64 x 512, conv7 2*2*6 x 64.
MACS = {"conv1": 221184, "conv2": 4718592, "conv3": 18874368, "conv4": 4718592, "conv5": 4718592,
        "conv6": 131072, "conv7": 1536}
BN_CHANNELS = {"conv1": 32, "conv2": 64, "conv3": 128, "conv4": 64, "conv5": 128, "conv6": 64}
ACTIVATION_ELEMENTS = {"conv1_act": 8192, "conv2_act": 16384, "conv3_act": 8192, "conv4_act": 4096,
                       "conv5_act": 2048}


def tiny_profile(tmp_path, extra="", **kwargs):
    config = config_module.load(write_tiny_config(str(tmp_path), extra=extra))
    return profile_config(config, "tiny", str(tmp_path / "dataset"), **kwargs)


def by_name(profile):
    return {layer.name: layer for layer in profile.layers}


def expected_quantized_bytes(weight_bits):
    """Hand-computed: quantized kernels at ``weight_bits``, conv7 and every bias / batch-norm value at 32 bits."""
    kernel_bits = sum(KERNELS[name] for name in KERNELS if name != "conv7") * weight_bits
    float_values = KERNELS["conv7"] + 6 + sum(4 * channels for channels in BN_CHANNELS.values())
    return (kernel_bits + 32 * float_values) // 8


def test_lmnet_v1_quantize_counts_are_exact(tmp_path):
    profile = tiny_profile(tmp_path)
    layers = by_name(profile)
    for name, count in KERNELS.items():
        assert layers[name].params == count + (6 if name == "conv7" else 0)
        assert layers[name].macs == MACS[name] and layers[name].flops == 2 * MACS[name]
        assert layers[name].weight_bits == (32 if name == "conv7" else 1)
    assert layers["conv1"].weight_bytes == 864 // 8 and layers["conv7"].weight_bytes == (384 + 6) * 4
    for name, channels in BN_CHANNELS.items():
        bn = layers[f"{name}_bn"]
        assert (bn.params, bn.macs, bn.weight_bytes) == (4 * channels, 0, 16 * channels)
    for name, elements in ACTIVATION_ELEMENTS.items():
        assert layers[name].activation_bits == 2 and layers[name].activation_bytes == elements * 2 // 8
        assert layers[name].flops == elements
    assert layers["conv6_act"].activation_bits == 32 and layers["conv6_act"].activation_bytes == 256 * 4
    assert layers["conv1_bn"].flops == 2 * 8192 and layers["pool"].flops == 6 * 4
    assert layers["s2d_1"].output_shape == [1, 8, 8, 256] and layers["s2d_1"].flops == 0
    totals = profile.totals()
    params = sum(KERNELS.values()) + 6 + sum(4 * c for c in BN_CHANNELS.values())
    assert totals["params"] == params and totals["fp32_bytes"] == 4 * params
    assert totals["macs"] == sum(MACS.values())
    assert totals["quantized_bytes"] == expected_quantized_bytes(1)
    assert totals["compression_ratio"] == pytest.approx(4 * params / expected_quantized_bytes(1))
    assert totals["quantized_macs_share"] == pytest.approx((sum(MACS.values()) - 1536) / sum(MACS.values()))
    statistics = sum(2 * c for c in BN_CHANNELS.values())
    assert (totals["learned_params"], totals["moving_statistics"]) == (params - statistics, statistics)
    assert totals["conv_flops"] == 2 * sum(MACS.values())


def quantized_network(network_class, classes, image_size):
    from lmnet.quantizations import binary_channel_wise_mean_scaling, linear_mid_tread_half
    return network_class(classes, image_size, activation_quantizer=linear_mid_tread_half,
                         activation_quantizer_kwargs={"bit": 2, "max_value": 2.0},
                         weight_quantizer=binary_channel_wise_mean_scaling, weight_quantizer_kwargs={})


def test_totals_match_upstream_blueoil_profiles():
    """Upstream Blueoil's profiler gives 717,226 parameters and 267.08 MFLOPs for LmnetV1Quantize at 32x32 with
    10 classes, and 4,834,198 parameters for LMFYoloQuantize at 224x224 with 1 class and 5 anchors."""
    from lmnet.networks.classification.lmnet_v1_quantize import LmnetV1Quantize
    from lmnet.networks.object_detection.lm_fyolo_quantize import LMFYoloQuantize
    classifier = quantized_network(LmnetV1Quantize, [str(i) for i in range(10)], (32, 32))
    totals = profile_keras_model(classifier.model, "lmnet_v1_quantize").totals()
    assert (totals["learned_params"], totals["moving_statistics"], totals["params"]) == (717226, 960, 718186)
    assert totals["conv_flops"] == 267079680
    detector = quantized_network(LMFYoloQuantize, ["person"], (224, 224))
    assert profile_keras_model(detector.model, "lm_fyolo_quantize").totals()["learned_params"] == 4834198


def test_ternary_weights_are_2_bits(tmp_path):
    extra = "from lmnet.quantizations import ternary\nNETWORK.WEIGHT_QUANTIZER = ternary\n"
    profile = tiny_profile(tmp_path, extra=extra)
    assert by_name(profile)["conv2"].weight_bytes == 18432 * 2 // 8
    assert profile.totals()["quantized_bytes"] == expected_quantized_bytes(2)


def test_unquant_layers_count_as_32_bit(tmp_path):
    base = tiny_profile(tmp_path).totals()
    profile = tiny_profile(tmp_path, unquant_layers=["conv2"])
    assert by_name(profile)["conv2"].weight_bits == 32
    assert profile.totals()["quantized_bytes"] - base["quantized_bytes"] == 18432 * (32 - 1) // 8
    quantized_macs = sum(MACS.values()) - 1536 - MACS["conv2"]
    assert profile.totals()["quantized_macs_share"] == pytest.approx(quantized_macs / sum(MACS.values()))
    with pytest.raises(ProfileError, match="unknown layer 'conv99' in --unquant_layers; layers with weights: conv1"):
        tiny_profile(tmp_path, unquant_layers=["conv99"])


class StepWeights(Quantizer):
    """A test weight quantizer whose bits are its ``bit`` parameter."""

    name = "step_weights"
    role = "weight"
    parameters = (Parameter("bit", "int32", 3),)

    def forward(self, x, bit):
        return x

    def bits(self, bit):
        return bit


def small_keras_model(weight_kwargs=None):
    inputs = keras.Input((6, 6, 2), name="in")
    x = QuantizedConv2D(4, 3, weight_quantizer="step_weights", weight_quantizer_kwargs=weight_kwargs,
                        name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = QuantizedActivation("linear_mid_tread_half", name="act")(x)
    x = keras.layers.MaxPooling2D(2, name="maxpool")(x)
    x = keras.layers.Add(name="add")([x, x])
    x = keras.layers.Flatten(name="flat")(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="dense")(x))


def test_small_keras_model_bits_from_the_quantizers(monkeypatch):
    monkeypatch.setitem(registry._QUANTIZERS, "step_weights", StepWeights())
    layers = by_name(profile_keras_model(small_keras_model(), "small"))
    conv = layers["conv"]  # 4x4x4 outputs, 3*3*2 taps each; 72 kernel values at 3 bits + 4 float biases
    assert (conv.params, conv.macs, conv.flops, conv.weight_bits, conv.weight_bytes) == (76, 1152, 2304, 3, 27 + 16)
    assert (layers["bn"].flops, layers["act"].flops, layers["act"].activation_bits) == (128, 64, 2)
    assert layers["act"].activation_bytes == 64 * 2 // 8  # linear_mid_tread_half's default bit is 2
    assert (layers["maxpool"].flops, layers["add"].flops, layers["flat"].flops) == (16 * 4, 16, 0)
    dense = layers["dense"]
    assert (dense.params, dense.macs, dense.flops, dense.weight_bytes) == (51, 48, 96, 51 * 4)
    odd = by_name(profile_keras_model(small_keras_model({"bit": 5}), "small"))["conv"]
    assert odd.weight_bytes == 72 * 5 / 8 + 16


def parse_markdown_table(text):
    """Rows of the first markdown table in ``text`` as lists of cells."""
    lines = text.splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def assert_markdown_matches_json(markdown, data):
    rows = parse_markdown_table(markdown)
    assert len(rows) == len(data["layers"])
    for row, layer in zip(rows, data["layers"]):
        assert row[:3] == [layer["name"], layer["type"], "x".join(map(str, layer["output_shape"]))]
        numbers = [float(cell) for cell in row[3:]]
        assert numbers == [float(layer[key]) for key in ("params", "macs", "flops", "weight_bits", "weight_bytes",
                                                         "activation_bits", "activation_bytes")]
    assert f"| parameters | {data['totals']['params']} |" in markdown
    assert f"| quantized size (bytes) | {data['totals']['quantized_bytes']} |" in markdown


def test_markdown_and_json_agree(tmp_path):
    profile = tiny_profile(tmp_path)
    assert_markdown_matches_json(to_markdown(profile), json.loads(json.dumps(profile.to_dict())))


def test_cli_from_config_alone(tmp_path, environment):
    path = write_tiny_config(str(tmp_path))
    result = CliRunner().invoke(profile_executor.main, ["-c", path, "-uql", "conv2"])
    assert result.exit_code == 0, result.output
    output_dir = os.path.join(environment.output_dir, "tiny")
    with open(os.path.join(output_dir, "tiny_profile.md")) as stream:
        markdown = stream.read()
    with open(os.path.join(output_dir, "tiny_profile.json")) as stream:
        data = json.load(stream)
    assert markdown in result.output
    assert_markdown_matches_json(markdown, data)
    assert data["totals"]["quantized_bytes"] == expected_quantized_bytes(1) + 18432 * 31 // 8
    assert data["checkpoint"] is None


def test_cli_unknown_layer_exits_2(tmp_path, environment):
    path = write_tiny_config(str(tmp_path))
    result = CliRunner().invoke(profile_executor.main, ["-c", path, "-uql", "nope"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"error: unknown layer 'nope' in --unquant_layers; layers with weights: "
        f"{', '.join(['conv1', 'conv2', 'conv3', 'conv4', 'conv5', 'conv6', 'conv7'])}"]


def test_cli_trained_experiment(tmp_path, environment):
    path = write_tiny_config(str(tmp_path), max_steps=2, save_steps=2, test_steps=2)
    train_executor.run(path, "trained", progress=False)
    out = tmp_path / "profile"
    result = CliRunner().invoke(profile_executor.main, ["-i", "trained", "-o", str(out)])
    assert result.exit_code == 0, result.output
    with open(out / "trained_profile.json") as stream:
        data = json.load(stream)
    assert data["name"] == "trained" and data["checkpoint"].endswith("save.ckpt-2")
    assert data["totals"]["macs"] == sum(MACS.values())
    result = CliRunner().invoke(profile_executor.main, ["-i", "trained", "--restore_path", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "not found" in result.stderr
