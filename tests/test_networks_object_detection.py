"""Tests of the YOLO detectors: output shapes, LMFYolo's parameter count and concat, quantizer placement and
switches, config errors, loss wiring and metrics."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from lmnet.common import Tasks
from lmnet.errors import ConfigError
from lmnet.layers import QuantizedActivation, QuantizedConv2D, SpaceToDepth
from lmnet.networks.object_detection.base import DEFAULT_ANCHORS, YoloBase
from lmnet.networks.object_detection.lm_fyolo import LMFYolo
from lmnet.networks.object_detection.lm_fyolo_quantize import LMFYoloQuantize
from lmnet.networks.object_detection.lm_tiny_yolo import LMTinyYolo
from lmnet.networks.object_detection.lm_tiny_yolo_quantize import LMTinyYoloQuantize
from lmnet.networks.object_detection.yolo_v2 import YoloV2
from lmnet.networks.object_detection.yolo_v2_quantize import YoloV2Quantize
from lmnet.quantizations import binary_mean_scaling, linear_mid_tread_half
from tests.conftest import darknet_to_network_layout

CLASSES = ["cat", "dog", "bird"]
ANCHORS = [[1.0, 1.0], [2.0, 1.5]]
ALL_NETWORKS = [LMFYolo, LMFYoloQuantize, YoloV2, YoloV2Quantize, LMTinyYolo, LMTinyYoloQuantize]
QUANTIZED = [LMFYoloQuantize, YoloV2Quantize, LMTinyYoloQuantize]
#: The block that feeds the last convolution, per network.
LAST_BLOCK = {LMFYoloQuantize: "block_13", YoloV2Quantize: "conv22", LMFYolo: "block_13", YoloV2: "conv22",
              LMTinyYolo: "block_6", LMTinyYoloQuantize: "block_6"}
FIRST_BLOCK = {LMFYoloQuantize: "block_1", YoloV2Quantize: "conv1", LMTinyYoloQuantize: "block_1"}


def make_network(cls, image_size=(64, 64), classes=CLASSES, **kwargs):
    """Builds ``cls`` with two anchors, adding 2-bit activation / binary weight quantizers when it needs them."""
    if cls.quantized:
        kwargs = {"activation_quantizer": linear_mid_tread_half,
                  "activation_quantizer_kwargs": {"bit": 2, "max_value": 2.0},
                  "weight_quantizer": binary_mean_scaling, **kwargs}
    kwargs.setdefault("anchors", ANCHORS)
    return cls(classes, image_size, **kwargs)


def layers_of(model, layer_type):
    """``{name: layer}`` of the layers of ``model`` that are exactly ``layer_type``."""
    return {layer.name: layer for layer in model.layers if type(layer) is layer_type}


# output ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("image_size", [(64, 64), (96, 128)], ids=["64x64", "96x128"])
@pytest.mark.parametrize("cls", ALL_NETWORKS, ids=lambda cls: cls.__name__)
def test_output_is_the_raw_grid(cls, image_size):
    network = make_network(cls, image_size)
    images = np.random.default_rng(0).uniform(0, 1, (2, *image_size, 3)).astype(np.float32)
    output = network.model(images, training=False).numpy()
    stride = cls.size_divisor  # 32, or 16 for LMTinyYolo
    assert output.shape == (2, image_size[0] // stride, image_size[1] // stride, len(ANCHORS) * (5 + len(CLASSES)))
    assert np.isfinite(output).all()
    assert isinstance(network.model.get_layer("images"), keras.layers.InputLayer)
    assert network.model.layers[-1].name == "output"
    assert network.training_model is network.model
    assert network.grid_size == (image_size[0] // stride, image_size[1] // stride)


@pytest.mark.parametrize("cls", ALL_NETWORKS, ids=lambda cls: cls.__name__)
def test_variable_paths_are_unique(cls):
    model = make_network(cls).model
    paths = [variable.path for variable in model.variables]
    assert len(paths) == len(set(paths))
    assert all(not layer.name.startswith(("conv2d", "batch_normalization", "space_to_depth")) for layer in model.layers)


def test_the_task_and_defaults():
    network = LMFYolo(CLASSES, (64, 64))
    assert network.task == Tasks.OBJECT_DETECTION
    assert network.best_metric == "mAP@0.5"
    assert network.anchors == [list(anchor) for anchor in DEFAULT_ANCHORS]
    assert (network.object_scale, network.no_object_scale, network.class_scale, network.coordinate_scale) == (
        5.0, 1.0, 1.0, 1.0)
    assert network.loss_iou_threshold == 0.6
    assert network.loss_warmup_steps == 1000
    assert LMFYolo(CLASSES, (64, 64), batch_size=64).loss_warmup_steps == 200
    assert LMFYolo(CLASSES, (64, 64), batch_size=64, loss_warmup_steps=0).loss_warmup_steps == 0
    assert (network.score_threshold, network.nms_iou_threshold, network.nms_max_output_size) == (0.05, 0.5, 100)


# LMFYolo architecture ---------------------------------------------------------------------------------------

def block_parameters(in_channels, filters, kernel_size):
    """Kernel plus the four batch-norm vectors (gamma, beta, moving mean, moving variance)."""
    return kernel_size * kernel_size * in_channels * filters + 4 * filters


def test_lmfyolo_parameter_count_by_hand():
    num_classes, num_anchors = 1, 2
    out = (5 + num_classes) * num_anchors
    expected = (block_parameters(3, 32, 1)  # block_1
                + block_parameters(32, 8, 3)  # block_2
                + block_parameters(8 * 4, 16, 3)  # block_3 after s2d
                + block_parameters(16 * 4, 32, 3)  # block_4
                + block_parameters(32 * 4, 64, 3)  # block_5
                + block_parameters(64 * 4, 128, 3)  # block_6
                + block_parameters(128 * 4, 128, 3)  # block_7
                + block_parameters(128, 256, 3)  # block_8
                + block_parameters(128, 32, 1) + block_parameters(64, 16, 1) + block_parameters(32, 4, 1)  # sides
                + block_parameters(1024, 256, 3)  # block_9
                + block_parameters(256, 128, 3) + block_parameters(128, 256, 3)  # block_10, block_11
                + block_parameters(256, 128, 3) + block_parameters(128, 256, 3)  # block_12, block_13
                + 256 * out + out)  # output with bias
    network = LMFYolo(["thing"], (64, 64), anchors=ANCHORS)
    assert network.model.count_params() == expected


@pytest.mark.parametrize("image_size", [(64, 64), (96, 128)], ids=["64x64", "96x128"])
def test_lmfyolo_concatenates_1024_channels_at_stride_32(image_size):
    model = make_network(LMFYolo, image_size).model
    concat = model.get_layer("concat")
    assert tuple(concat.output.shape) == (None, image_size[0] // 32, image_size[1] // 32, 1024)
    sources = [tensor.shape[-1] for tensor in concat.input]
    assert sources == [256, 128, 128, 256, 256]  # block_8, block_7, side 6, side 5, side 4
    block_sizes = {name: layer.block_size for name, layer in layers_of(model, SpaceToDepth).items()}
    assert block_sizes == {"s2d_2": 2, "s2d_3": 2, "s2d_4": 2, "s2d_5": 2, "s2d_6": 2,
                           "side_6_s2d": 2, "side_5_s2d": 4, "side_4_s2d": 8}  # one op per side path, as upstream


def test_lmfyolo_side_path_channels_follow_tensorflow_space_to_depth():
    model = make_network(LMFYolo, (64, 64)).model
    side_4 = model.get_layer("side_4_act").output
    probe = keras.Model(model.input, [side_4, model.get_layer("side_4_s2d").output])
    before, after = probe(np.random.default_rng(0).normal(size=(1, 64, 64, 3)).astype(np.float32))
    # block 8: output channel (dy * 8 + dx) * 4 + c of cell (i, j) is input (8 i + dy, 8 j + dx, c)
    np.testing.assert_array_equal(after[0, 1, 0, (3 * 8 + 5) * 4 + 2], before[0, 8 + 3, 5, 2])


def test_yolov2_passthrough_joins_conv13_at_stride_32():
    model = make_network(YoloV2, (64, 64)).model
    assert model.get_layer("conv13_act").output.shape[1:] == (4, 4, 512)
    assert model.get_layer("passthrough_s2d").output.shape[1:] == (2, 2, 256)
    assert model.get_layer("concat").output.shape[1:] == (2, 2, 1280)
    assert len(layers_of(model, keras.layers.MaxPooling2D)) == 5
    assert sorted(layers_of(model, QuantizedConv2D)) == sorted([f"conv{i}" for i in range(1, 23)] + ["output"])


# quantization -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("cls", [LMFYolo, YoloV2, LMTinyYolo], ids=lambda cls: cls.__name__)
def test_float_networks_have_no_quantizer(cls):
    model = make_network(cls).model
    assert not layers_of(model, QuantizedActivation)
    assert all(layer.weight_quantizer is None for layer in layers_of(model, QuantizedConv2D).values())
    assert isinstance(model.get_layer(f"{LAST_BLOCK[cls]}_act"), keras.layers.LeakyReLU)


@pytest.mark.parametrize("cls", QUANTIZED, ids=lambda cls: cls.__name__)
def test_default_quantizer_placement(cls):
    model = make_network(cls).model
    convs = layers_of(model, QuantizedConv2D)
    assert convs["output"].weight_quantizer is None
    assert convs[FIRST_BLOCK[cls]].weight_quantizer == "binary_mean_scaling"
    assert all(layer.weight_quantizer == "binary_mean_scaling" for name, layer in convs.items() if name != "output")
    activations = layers_of(model, QuantizedActivation)
    assert len(activations) == len(convs) - 2  # every block but the one before the float last convolution
    assert all(layer.activation_quantizer_kwargs == {"bit": 2, "max_value": 2.0} for layer in activations.values())
    assert isinstance(model.get_layer(f"{LAST_BLOCK[cls]}_act"), keras.layers.LeakyReLU)
    assert not layers_of(model, keras.layers.LeakyReLU).keys() - {f"{LAST_BLOCK[cls]}_act"}


@pytest.mark.parametrize("cls", QUANTIZED, ids=lambda cls: cls.__name__)
def test_quantization_switches(cls):
    model = make_network(cls, quantize_first_convolution=False, quantize_last_convolution=True).model
    convs = layers_of(model, QuantizedConv2D)
    assert convs[FIRST_BLOCK[cls]].weight_quantizer is None
    assert convs["output"].weight_quantizer == "binary_mean_scaling"
    assert isinstance(model.get_layer(f"{LAST_BLOCK[cls]}_act"), QuantizedActivation)
    assert isinstance(model.get_layer(f"{FIRST_BLOCK[cls]}_act"), QuantizedActivation)
    assert not layers_of(model, keras.layers.LeakyReLU)


@pytest.mark.parametrize("cls", QUANTIZED, ids=lambda cls: cls.__name__)
def test_quantized_networks_require_quantizers(cls):
    with pytest.raises(ConfigError, match="NETWORK.ACTIVATION_QUANTIZER"):
        cls(CLASSES, (64, 64))


# config errors ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("image_size", [(64, 40), (100, 64), (8, 8)])
@pytest.mark.parametrize("cls", ALL_NETWORKS, ids=lambda cls: cls.__name__)
def test_sizes_not_divisible_by_the_stride_are_a_config_error(cls, image_size):
    with pytest.raises(ConfigError, match=f"IMAGE_SIZE.*{cls.size_divisor}"):
        make_network(cls, image_size)


def test_lm_tiny_yolo_predicts_on_a_stride_16_grid_with_max_pooling_and_one_side_path():
    model = make_network(LMTinyYolo, (128, 128)).model
    assert model.output.shape[1:3] == (8, 8)
    pools = layers_of(model, keras.layers.MaxPooling2D)
    assert sorted(pools) == ["pool_1", "pool_2", "pool_3", "pool_4"]
    assert tuple(model.get_layer("concat").output.shape) == (None, 8, 8, 256 + 128)
    assert model.get_layer("side_4_s2d").block_size == 2


def test_the_space_to_depth_stem_replaces_block_1_and_keeps_the_grid_and_the_other_names():
    default = make_network(LMTinyYolo, (128, 128)).model
    model = make_network(LMTinyYolo, (128, 128), stem="space_to_depth").model
    assert model.output.shape[1:3] == (8, 8)
    assert tuple(model.get_layer("stem_s2d").output.shape) == (None, 64, 64, 12)
    assert model.get_layer("block_2").input.shape[1:] == (64, 64, 12)
    assert sorted(layers_of(model, keras.layers.MaxPooling2D)) == ["pool_2", "pool_3", "pool_4"]
    assert {layer.name for layer in default.layers} - {layer.name for layer in model.layers} == {
        "block_1", "block_1_bn", "block_1_act", "pool_1"}
    assert model.count_params() < default.count_params()


def test_the_space_to_depth_stem_quantizes_block_2_as_the_first_convolution():
    model = make_network(LMTinyYoloQuantize, stem="space_to_depth").model
    assert layers_of(model, QuantizedConv2D)["block_2"].weight_quantizer == "binary_mean_scaling"
    switched = make_network(LMTinyYoloQuantize, stem="space_to_depth", quantize_first_convolution=False).model
    assert layers_of(switched, QuantizedConv2D)["block_2"].weight_quantizer is None
    assert layers_of(switched, QuantizedConv2D)["block_3"].weight_quantizer == "binary_mean_scaling"


def test_an_unknown_stem_is_a_config_error():
    with pytest.raises(ConfigError, match="NETWORK.STEM.*'space_to_depth'.*got 'pixel_shuffle'"):
        LMTinyYolo(CLASSES, (64, 64), stem="pixel_shuffle")


@pytest.mark.parametrize("anchors", [[], [[1.0]], [[1.0, 0.0]], [[1.0, -2.0]], "big", [[1.0, "x"]]])
def test_bad_anchors_are_a_config_error(anchors):
    with pytest.raises(ConfigError, match="NETWORK.ANCHORS"):
        LMFYolo(CLASSES, (64, 64), anchors=anchors)


def test_negative_warmup_is_a_config_error():
    with pytest.raises(ConfigError, match="NETWORK.LOSS_WARMUP_STEPS"):
        LMFYolo(CLASSES, (64, 64), loss_warmup_steps=-1)


def test_the_base_builds_nothing_itself():
    with pytest.raises(NotImplementedError):
        YoloBase(CLASSES, (64, 64)).model


# loss and metrics --------------------------------------------------------------------------------------------

def test_the_loss_passes_the_network_settings():
    network = make_network(LMFYolo, object_scale=2.0, no_object_scale=0.5, class_scale=3.0, coordinate_scale=4.0,
                           loss_iou_threshold=0.7, loss_warmup_steps=7)
    loss = network.loss
    assert (loss.object_scale, loss.no_object_scale, loss.class_scale, loss.coordinate_scale) == (2.0, 0.5, 3.0, 4.0)
    assert (loss.iou_threshold, loss.warmup_steps, loss.image_size) == (0.7, 7, (64.0, 64.0))
    assert loss.anchors.numpy().tolist() == ANCHORS


def empty_targets(batch=2):
    """Ground truths with one box in the first image and none in the second."""
    boxes = np.zeros((batch, 2, 5), np.float32)
    boxes[..., 4] = -1
    boxes[0, 0] = [8.0, 8.0, 30.0, 40.0, 2.0]
    return tf.constant(boxes)


def test_compute_loss_adds_weight_decay():
    images = np.random.default_rng(1).uniform(0, 1, (2, 64, 64, 3)).astype(np.float32)
    plain = make_network(LMFYolo)
    decayed = make_network(LMFYolo, weight_decay_rate=1e-3)
    decayed.model.set_weights(plain.model.get_weights())
    outputs = plain.model(images)
    kernels = sum(float(tf.nn.l2_loss(v)) for v in plain.model.trainable_variables if v.name == "kernel")
    difference = float(decayed.compute_loss(empty_targets(), outputs, decayed.model)
                       - plain.compute_loss(empty_targets(), outputs, plain.model))
    np.testing.assert_allclose(difference, 1e-3 * kernels, rtol=1e-4)
    assert set(plain.loss_terms(empty_targets(), outputs)) == {"coordinate", "object", "no_object", "class", "prior"}


def test_batch_metrics_are_sums_over_the_batch():
    network = make_network(LMFYolo)
    raw = np.zeros((2, 2, 2, len(ANCHORS), 5 + len(CLASSES)), np.float32)
    raw[..., 4] = -10.0
    outputs = tf.constant(darknet_to_network_layout(raw))
    metrics = {name: float(value) for name, value in network.batch_metrics(empty_targets(), outputs).items()}
    assert set(metrics) == {"average_iou", "object_score", "no_object_score"}
    np.testing.assert_allclose(metrics["object_score"], 1 / (1 + np.exp(10.0)), rtol=1e-5)  # one image with a box
    np.testing.assert_allclose(metrics["no_object_score"], 2 / (1 + np.exp(10.0)), rtol=1e-5)
    assert 0 < metrics["average_iou"] <= 1


def test_the_loss_decodes_like_the_post_processor():
    from lmnet.post_processor import FormatYoloV2
    network = make_network(LMFYolo, (64, 96))
    raw = np.random.default_rng(3).normal(0, 1.5, (2, 2, 3, len(ANCHORS) * (5 + len(CLASSES)))).astype(np.float32)
    boxes = network.loss.decode(tf.constant(raw)).boxes.numpy()  # [B, gh, gw, A, 4]
    rows = FormatYoloV2((64, 96), CLASSES, ANCHORS).process(raw).reshape(2, 2, 3, len(ANCHORS), len(CLASSES), 6)
    np.testing.assert_allclose(rows[..., 0, :4], boxes, rtol=1e-5, atol=1e-4)


def test_create_metrics_scores_a_perfect_prediction():
    network = make_network(LMFYolo)
    # the box [8, 8, 30, 40] of class 2: centre (23, 28) in cell (0, 0), 0.94 x 1.25 cells: anchor 0
    # (values written in Darknet's order tx ty tw th to classes, then laid out as the network does)
    raw = np.zeros((2, 2, 2, len(ANCHORS), 5 + len(CLASSES)), np.float32)
    raw[..., 4] = -10.0
    raw[0, 0, 0, 0, :5] = [np.log(23 / 9), np.log(28 / 4), np.log(30 / 32), np.log(40 / 32), 10.0]
    raw[0, 0, 0, 0, 5 + 2] = 10.0
    metrics = network.create_metrics(None)
    metrics.update(empty_targets().numpy(), darknet_to_network_layout(raw))
    assert metrics.result()["mAP@0.5"] == pytest.approx(1.0)
