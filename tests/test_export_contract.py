"""The hardware converter's contract (ARCHITECTURE §7), pinned without the converter.

Blueoil's DLK converter rejects or miscompiles a frozen graph whose quantizer arguments have other
dtypes than upstream's, whose packed 2-bit tensors are not whole 32-channel words, or whose detector
output is laid out in another order than its runtimes decode. These tests check each of those on
the graph of every quantized network of ``configs/`` at its config's image size, so CI catches a
regression even where the converter itself is absent (``tests/test_blueoil_converter.py`` runs it).
"""
import glob
import math
import os

import numpy as np
import pytest
import tensorflow as tf

from lmnet import builders, config as config_module
from lmnet.common import Tasks
from lmnet.export import graph
from lmnet.post_processor import FormatYoloV2
from tests.conftest import REPO

#: Every config whose network quantizes (the hardware targets), by path relative to the repository.
QUANTIZED_CONFIGS = sorted(
    os.path.relpath(path, REPO)
    for path in glob.glob(os.path.join(REPO, "configs", "core", "*", "*quantize*.py"))
    + [os.path.join(REPO, "configs", "example", name) for name in ("classification.py", "object_detection.py")])

#: Upstream's input dtypes of each quantizer function, after the quantized tensor (float32).
UPSTREAM_ARGUMENT_DTYPES = {
    "QTZ_linear_mid_tread_half": [tf.float32, tf.int32, tf.float32],
    "QTZ_binary_mean_scaling": [tf.float32],
    "QTZ_binary_channel_wise_mean_scaling": [tf.float32],
}
#: The side paths of LMFYolo as upstream builds them: one space-to-depth each.
LMFYOLO_SIDE_BLOCKS = {"side_4_s2d": 8, "side_5_s2d": 4, "side_6_s2d": 2}


def _exported(config_path):
    """``(config, network, graph_def)`` of a config's network at its image size (fresh weights)."""
    config = config_module.load(os.path.join(REPO, config_path))
    network = builders.build_network(config, config.CLASSES or ["object"])
    return config, network, graph.build_graph_def(network.model, config.IMAGE_SIZE)


@pytest.fixture(scope="module", params=QUANTIZED_CONFIGS)
def exported(request):
    return _exported(request.param)


def _output_channels(node):
    return node.attr["_output_shapes"].list.shape[0].dim[-1].size


def _node_dtype(node):
    return tf.dtypes.as_dtype(node.attr["dtype"].type)


def test_there_are_quantized_configs_of_every_core_family():
    names = " ".join(QUANTIZED_CONFIGS)
    assert len(QUANTIZED_CONFIGS) >= 8
    for family in ("lmnet_quantize", "lmnet_v1_quantize", "lm_fyolo_quantize", "yolo_v2_quantize"):
        assert family in names


def test_quantizer_arguments_have_upstream_dtypes(exported):
    config, _, graph_def = exported
    nodes = {node.name: node for node in graph_def.node}
    functions = {function.signature.name: function.signature for function in graph_def.library.function}
    quantizers = [node for node in graph_def.node if node.op.startswith("QTZ_")]
    assert quantizers
    for node in quantizers:
        expected = UPSTREAM_ARGUMENT_DTYPES[node.op]
        declared = [tf.dtypes.as_dtype(arg.type) for arg in functions[node.op].input_arg]
        assert declared == expected, node.name
        for name, dtype in zip(node.input[1:], expected[1:]):
            assert nodes[name].op == "Const" and _node_dtype(nodes[name]) == dtype, name
        if node.op == "QTZ_linear_mid_tread_half":
            bit = tf.make_ndarray(nodes[node.input[1]].attr["value"].tensor)
            assert bit.dtype == np.int32 and int(bit) == config.NETWORK.ACTIVATION_QUANTIZER_KWARGS["bit"]


def test_space_to_depth_outputs_are_whole_32_channel_words(exported):
    _, network, graph_def = exported
    space_to_depth = [node for node in graph_def.node if node.op == "SpaceToDepth"]  # none in LmnetQuantize (V0)
    for node in space_to_depth:
        assert _output_channels(node) % 32 == 0, f"{node.name}: {_output_channels(node)} channels"
    blocks = {node.name.split("/")[0]: node.attr["block_size"].i for node in space_to_depth}
    if type(network).__name__.startswith("LMFYolo"):
        assert {name: blocks[name] for name in LMFYOLO_SIDE_BLOCKS} == LMFYOLO_SIDE_BLOCKS
        assert all(size == 2 for name, size in blocks.items() if name not in LMFYOLO_SIDE_BLOCKS)
    else:
        assert set(blocks.values()) <= {2}


def test_graph_uses_only_converter_ops_and_has_the_output_shape(exported):
    config, network, graph_def = exported
    assert graph.unsupported_ops(graph_def) == []
    output = next(node for node in graph_def.node if node.name == graph.OUTPUT_NAME)
    shape = [dim.size for dim in output.attr["_output_shapes"].list.shape[0].dim]
    if config.TASK == Tasks.OBJECT_DETECTION:
        height, width = config.IMAGE_SIZE
        assert shape == [1, height // 32, width // 32, network.num_anchors * (network.num_classes + 5)]
    else:
        assert shape == [1, network.num_classes]


def _upstream_decode(raw, image_size, num_classes, anchors):
    """YOLOv2 decoding written the way upstream Blueoil's runtime reads the output, kept independent of lmnet:
    each anchor's channels split at ``[C, C + 1, C + 5]`` into class logits, confidence and ``tx, ty, tw, th``.

    Returns:
        ``[gh·gw·A·C, 6]`` rows ``(x, y, w, h, class, score)`` in lmnet's row order.
    """
    grid_h, grid_w = raw.shape[:2]
    raw = raw.reshape(grid_h, grid_w, len(anchors), num_classes + 5).astype(np.float64)
    rows = []
    for row in range(grid_h):
        for col in range(grid_w):
            for (anchor_w, anchor_h), values in zip(anchors, raw[row, col]):
                logits, confidence, (tx, ty, tw, th) = values[:num_classes], values[num_classes], values[-4:]
                probabilities = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
                w = anchor_w * math.exp(tw) / grid_w * image_size[1]
                h = anchor_h * math.exp(th) / grid_h * image_size[0]
                x = (col + 1 / (1 + math.exp(-tx))) / grid_w * image_size[1] - w / 2
                y = (row + 1 / (1 + math.exp(-ty))) / grid_h * image_size[0] - h / 2
                score = 1 / (1 + math.exp(-confidence))
                rows += [[x, y, w, h, c, score * probabilities[c]] for c in range(num_classes)]
    return np.asarray(rows)


def test_detector_output_decodes_as_upstream_reads_it():
    config, network, graph_def = _exported("configs/example/object_detection.py")
    image = np.random.default_rng(0).normal(size=(1, *config.IMAGE_SIZE, 3)).astype(np.float32)
    raw = graph.run_graph_def(graph_def, image)[graph.OUTPUT_NAME]
    np.testing.assert_allclose(raw, network.model(image, training=False).numpy(), rtol=1e-4, atol=1e-4)
    lmnet_rows = FormatYoloV2(config.IMAGE_SIZE, network.classes, network.anchors).process(raw)[0]
    upstream_rows = _upstream_decode(raw[0], config.IMAGE_SIZE, network.num_classes, network.anchors)
    np.testing.assert_allclose(lmnet_rows, upstream_rows, rtol=1e-4, atol=1e-3)


def test_max_pooling_reads_values_before_the_quantizer_and_computes_the_same():
    """The converter's x86 runtime has no MaxPool of packed 2-bit tensors: the graph pools first, then quantizes."""
    config, network, graph_def = _exported("configs/core/classification/lmnet_quantize_cifar10.py")
    nodes = {node.name: node for node in graph_def.node}
    pools = [node for node in graph_def.node if node.op == "MaxPool"]
    assert len(pools) == 5
    for pool in pools:
        assert not nodes[pool.input[0]].op.startswith("QTZ_"), pool.name
    consumers = {name.split(":")[0] for node in graph_def.node for name in node.input}
    assert all(node.name in consumers for node in graph_def.node if node.name != graph.OUTPUT_NAME)  # pruned
    image = np.random.default_rng(1).normal(size=(2, *config.IMAGE_SIZE, 3)).astype(np.float32)
    expected = network.model(image, training=False).numpy()
    for index in range(2):
        output = graph.run_graph_def(graph_def, image[index:index + 1])[graph.OUTPUT_NAME]
        np.testing.assert_allclose(output, expected[index:index + 1], rtol=1e-5, atol=1e-6)


def test_convolutions_beyond_the_converter_accumulator_are_named(exported):
    """Blueoil's converter sums a quantized convolution in int16: YoloV2Quantize's conv22 (1280 inputs) does not fit."""
    _, network, graph_def = exported
    messages = graph.converter_limit_warnings(graph_def)
    if type(network).__name__ == "YoloV2Quantize":
        assert len(messages) == 1 and messages[0].startswith("conv22/Conv2D: 1280 input channels x 3x3 taps x 3 "
                                                             "levels = 34560 exceeds")
    else:
        assert messages == []
