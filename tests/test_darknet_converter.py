"""Darknet weight conversion: header versions, exact mapping onto Darknet19 / YoloV2, a NumPy reference, errors.

The ``.weights`` files are written here, independently of the converter, from known random arrays in
the Darknet layout (header, then per convolution biases, [scales, rolling means, rolling variances],
weights ``[out, in, h, w]``).
"""
import fnmatch
import re
import struct
import types

import keras
import numpy as np
import pytest
from click.testing import CliRunner

from executor import convert_weight_from_darknet as converter
from lmnet import darknet
from lmnet.checkpoint_io import restore_weights, weight_map
from lmnet.layers import darknet_block
from lmnet.training.pretrain import restore_pretrained

# Published Darknet-19 / YOLOv2 layer tables: (filters, input channels, kernel size, batch norm).
DARKNET19_BACKBONE = [(32, 3, 3), (64, 32, 3), (128, 64, 3), (64, 128, 1), (128, 64, 3), (256, 128, 3),
                      (128, 256, 1), (256, 128, 3), (512, 256, 3), (256, 512, 1), (512, 256, 3), (256, 512, 1),
                      (512, 256, 3), (1024, 512, 3), (512, 1024, 1), (1024, 512, 3), (512, 1024, 1),
                      (1024, 512, 3)]
DARKNET19_LAYERS = [(*layer, True) for layer in DARKNET19_BACKBONE] + [(1000, 1024, 1, False)]
YOLOV2_LAYERS = ([(*layer, True) for layer in DARKNET19_BACKBONE]
                 + [(1024, 1024, 3, True), (1024, 1024, 3, True), (64, 512, 1, True), (1024, 1280, 3, True),
                    (125, 1024, 1, False)])


def source_arrays(layers, seed):
    """Random Darknet arrays per layer: ``{"biases", "scales", "mean", "variance", "weights"}``."""
    rng = np.random.default_rng(seed)
    result = []
    for filters, channels, size, batch_norm in layers:
        arrays = {"biases": rng.normal(size=filters).astype(np.float32)}
        if batch_norm:
            arrays["scales"] = rng.normal(size=filters).astype(np.float32)
            arrays["mean"] = rng.normal(size=filters).astype(np.float32)
            arrays["variance"] = rng.uniform(0.5, 2.0, size=filters).astype(np.float32)
        arrays["weights"] = (rng.standard_normal((filters, channels, size, size), dtype=np.float32) * 0.2)
        result.append(arrays)
    return result


def header_bytes(major, minor, revision=0, seen=12345):
    """A Darknet header; ``seen`` is int64 from version 0.2 on, int32 before."""
    wide = major * 10 + minor >= 2 and major < 1000 and minor < 1000
    return struct.pack("<3i", major, minor, revision) + struct.pack("<q" if wide else "<i", seen)


def write_weights(path, arrays, major=0, minor=2, seen=12345, extra=b""):
    """Writes a ``.weights`` file in the Darknet layout."""
    with open(path, "wb") as stream:
        stream.write(header_bytes(major, minor, seen=seen))
        for layer in arrays:
            for key in ("biases", "scales", "mean", "variance", "weights"):
                if key in layer:
                    stream.write(layer[key].astype("<f4").tobytes())
        stream.write(extra)
    return str(path)


def expected_values(names, arrays):
    """``{"<layer>/<variable>": array}`` the converter must produce from ``arrays``."""
    values = {}
    for name, layer in zip(names, arrays):
        values[f"{name}/kernel"] = layer["weights"].transpose(2, 3, 1, 0)
        if "scales" in layer:
            values.update({f"{name}_bn/beta": layer["biases"], f"{name}_bn/gamma": layer["scales"],
                           f"{name}_bn/moving_mean": layer["mean"], f"{name}_bn/moving_variance": layer["variance"]})
        else:
            values[f"{name}/bias"] = layer["biases"]
    return values


def assert_model_equals(model, expected):
    """Every variable of ``model`` equals its expected array exactly."""
    weights = weight_map(model)
    assert sorted(weights) == sorted(expected)
    for key, variable in weights.items():
        np.testing.assert_array_equal(variable.numpy(), expected[key], err_msg=key)


def reference_block(x, layer, epsilon):
    """NumPy: 'same' convolution with Darknet weights ``[out, in, h, w]`` -> batch norm -> leaky ReLU 0.1."""
    weights = layer["weights"].astype(np.float64)
    size = weights.shape[-1]
    pad = size // 2
    padded = np.pad(x.astype(np.float64), ((pad, pad), (pad, pad), (0, 0)))
    height, width = x.shape[:2]
    out = np.zeros((height, width, weights.shape[0]))
    for i in range(size):
        for j in range(size):
            out += np.einsum("yxc,oc->yxo", padded[i:i + height, j:j + width], weights[:, :, i, j])
    out = (out - layer["mean"]) / np.sqrt(layer["variance"] + epsilon) * layer["scales"] + layer["biases"]
    return np.where(out > 0, out, 0.1 * out)


def max_pool(x):
    """NumPy 2x2 max pooling with stride 2."""
    height, width, channels = x.shape
    return x.reshape(height // 2, 2, width // 2, 2, channels).max(axis=(1, 3))


# ---------------------------------------------------------------- a tiny network: header versions and errors

TINY_LAYERS = [(4, 3, 3, True), (6, 4, 1, True), (5, 6, 1, False)]
TINY_NAMES = ["conv1", "conv2", "head"]


def tiny_model():
    """conv1 4@3x3 and conv2 6@1x1 darknet blocks, then ``head`` 5@1x1 with bias (built in another order)."""
    inputs = keras.Input((8, 8, 3))
    x = darknet_block(inputs, 4, 3, "conv1")
    x = darknet_block(x, 6, 1, "conv2")
    return keras.Model(inputs, keras.layers.Conv2D(5, 1, name="head")(x))


@pytest.mark.parametrize("major, minor, header_size", [(0, 1, 16), (0, 2, 20), (1, 0, 20), (1000, 0, 16)])
def test_header_versions_and_mapping(tmp_path, major, minor, header_size):
    arrays = source_arrays(TINY_LAYERS, seed=major + minor)
    seen = 2 ** 33 + 5 if header_size == 20 else 2 ** 31 - 7  # int64 values beyond the int32 range
    path = write_weights(tmp_path / "tiny.weights", arrays, major=major, minor=minor, seen=seen)
    model = tiny_model()
    header, values = darknet.load_darknet_weights(model, TINY_NAMES, path)
    assert (header.major, header.minor, header.size, header.seen) == (major, minor, header_size, seen)
    darknet.assign_weights(model, values, complete=True)
    assert_model_equals(model, expected_values(TINY_NAMES, arrays))


def test_seen_rule():
    assert not darknet.seen_is_int64(0, 1)
    assert darknet.seen_is_int64(0, 2) and darknet.seen_is_int64(1, 0) and darknet.seen_is_int64(999, 5)
    assert not darknet.seen_is_int64(1000, 0) and not darknet.seen_is_int64(0, 1000)


@pytest.mark.parametrize("change, message", [
    (-4, "expected 207 floats after the 20-byte header, found 206 (file too short"),
    (8, "expected 207 floats after the 20-byte header, found 209 (file too long"),
    (2, "expected 207 floats after the 20-byte header, found 207 and 2 stray bytes (file too long"),
])
def test_size_mismatch(tmp_path, change, message):
    path = write_weights(tmp_path / "tiny.weights", source_arrays(TINY_LAYERS, 0))
    data = open(path, "rb").read()
    data = data[:change] if change < 0 else data + b"\0" * change
    open(path, "wb").write(data)
    with pytest.raises(darknet.DarknetWeightsError, match=re.escape("size mismatch: " + message)):
        darknet.load_darknet_weights(tiny_model(), TINY_NAMES, path)


@pytest.mark.parametrize("data, message", [
    (b"\0" * 10, "truncated header: 10 bytes, the version alone needs 12"),
    (struct.pack("<3i", 0, 2, 0) + b"\0" * 6, r"truncated header: 18 bytes, version 0.2.0 needs 20 \(seen is int64\)"),
    (struct.pack("<3i", 0, 1, 0) + b"\0" * 2, r"truncated header: 14 bytes, version 0.1.0 needs 16 \(seen is int32\)"),
])
def test_truncated_header(tmp_path, data, message):
    path = tmp_path / "short.weights"
    path.write_bytes(data)
    with pytest.raises(darknet.DarknetWeightsError, match=message):
        darknet.load_darknet_weights(tiny_model(), TINY_NAMES, str(path))


# ---------------------------------------------------------------- the real networks

def test_layer_tables_match_the_published_networks():
    for name, layers in (("darknet19", DARKNET19_LAYERS), ("yolov2", YOLOV2_LAYERS)):
        model = darknet.get_model(name)
        specs = darknet.conv_specs(darknet.build_network(model).model, model.conv_layers)
        assert [(s.filters, s.channels, s.kernel_size[0], s.batch_norm) for s in specs] == layers
        assert all(s.kernel_size[0] == s.kernel_size[1] for s in specs)
    counts = {name: sum(f * ((4 if bn else 1) + c * k * k) for f, c, k, bn in layers)
              for name, layers in (("darknet19", DARKNET19_LAYERS), ("yolov2", YOLOV2_LAYERS))}
    assert counts == {"darknet19": 20856776, "yolov2": 50676061}


def test_darknet19_conversion_restores_exactly_and_computes_like_darknet(tmp_path):
    arrays = source_arrays(DARKNET19_LAYERS, seed=3)
    path = write_weights(tmp_path / "darknet19.weights", arrays, major=0, minor=1)
    result = CliRunner().invoke(converter.main, ["-m", "darknet19", "--input", path,
                                                 "--output", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "PRETRAIN_FILE = 'save.ckpt'" in result.output and "IS_PRETRAIN = True" in result.output
    names = darknet.MODELS["darknet19"].conv_layers
    expected = expected_values(names, arrays)
    from lmnet.networks.classification.darknet19 import Darknet19
    model = Darknet19(classes=[str(i) for i in range(1000)], image_size=(64, 64)).model
    restore_weights(model, str(tmp_path / "out" / "save.ckpt"))
    assert_model_equals(model, expected)

    image = np.random.default_rng(0).uniform(-1, 1, (64, 64, 3)).astype(np.float32)
    probe = keras.Model(model.input, [model.get_layer("conv1_act").output, model.get_layer("conv2_act").output])
    conv1, conv2 = (out[0] for out in probe(image[None], training=False))
    epsilon = model.get_layer("conv1_bn").epsilon
    reference1 = reference_block(image, arrays[0], epsilon)
    np.testing.assert_allclose(conv1, reference1, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(conv2, reference_block(max_pool(reference1), arrays[1], epsilon), rtol=1e-3, atol=1e-3)

    # IS_PRETRAIN with the printed PRETRAIN_VARS: the backbone into a Darknet19 with other classes.
    other = Darknet19(classes=["a", "b"], image_size=(32, 32)).model
    config = types.SimpleNamespace(PRETRAIN_DIR=str(tmp_path / "out"), PRETRAIN_FILE="save.ckpt",
                                   PRETRAIN_VARS=list(darknet.MODELS["darknet19"].pretrain_vars))
    restored = restore_pretrained(other, config)
    assert restored.initialised == []
    assert sorted(restored.restored) == sorted(key for key in expected if not key.startswith("conv19/"))
    np.testing.assert_array_equal(other.get_layer("conv18").kernel.numpy(), expected["conv18/kernel"])


def test_yolov2_conversion_restores_exactly(tmp_path):
    arrays = source_arrays(YOLOV2_LAYERS, seed=4)
    path = write_weights(tmp_path / "yolo-voc.weights", arrays, major=0, minor=2, seen=32013312)
    lines = []
    result = converter.run("yolov2", path, str(tmp_path / "out"), log=lines.append)
    assert result.header.seen == 32013312 and result.num_floats == 50676061
    assert any("PRETRAIN_VARS = ['conv*']" in line for line in lines)
    expected = expected_values(darknet.MODELS["yolov2"].conv_layers, arrays)
    # Darknet's region layer orders each anchor's 25 channels tx ty tw th to c0..c19; lmnet's
    # (upstream Blueoil's) order is c0..c19 to tx ty tw th.
    order = [anchor * 25 + k for anchor in range(5) for k in [*range(5, 25), 4, 0, 1, 2, 3]]
    expected["output/kernel"] = expected["output/kernel"][..., order]
    expected["output/bias"] = expected["output/bias"][order]
    from lmnet.networks.object_detection.yolo_v2 import YoloV2
    model = YoloV2(classes=[str(i) for i in range(20)], image_size=(96, 64)).model
    restore_weights(model, result.checkpoint)
    assert_model_equals(model, expected)
    head_bias, darknet_bias = model.get_layer("output").bias.numpy(), arrays[-1]["biases"]
    assert head_bias[45] == darknet_bias[29]  # anchor 1's objectness
    np.testing.assert_array_equal(head_bias[46:50], darknet_bias[25:29])  # anchor 1's tx ty tw th
    np.testing.assert_array_equal(head_bias[25:45], darknet_bias[30:50])  # anchor 1's class logits
    selected = [key for key in weight_map(model) if any(fnmatch.fnmatch(key, p) for p in ["conv*"])]
    assert len(selected) == len(weight_map(model)) - 2 and not any(key.startswith("output/") for key in selected)


def test_cli_errors_exit_2(tmp_path):
    missing = CliRunner().invoke(converter.main, ["-m", "yolov2", "--input", str(tmp_path / "none.weights")])
    assert missing.exit_code == 2 and "error: weight file" in missing.output and "not found" in missing.output
    path = write_weights(tmp_path / "wrong.weights", source_arrays(TINY_LAYERS, 0))
    wrong = CliRunner().invoke(converter.main, ["-m", "darknet19", "--input", path, "--output", str(tmp_path)])
    assert wrong.exit_code == 2
    assert "size mismatch: expected 20856776 floats after the 20-byte header, found 207" in wrong.output
    assert len(wrong.output.strip().splitlines()) == 1
