"""Tests of the classification networks: shapes, parameter counts, quantizer placement, config errors,
loss and a few training steps."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from lmnet.errors import ConfigError
from lmnet.layers import QuantizedActivation, QuantizedConv2D
from lmnet.networks.classification.darknet19 import Darknet19
from lmnet.networks.classification.lmnet_v0 import LmnetV0
from lmnet.networks.classification.lmnet_v0_quantize import LmnetV0Quantize
from lmnet.networks.classification.lmnet_v1 import LmnetV1
from lmnet.networks.classification.lmnet_v1_quantize import LmnetV1Quantize
from lmnet.networks.classification.vgg16 import VGG16
from lmnet.quantizations import binary_mean_scaling, linear_mid_tread_half

CLASSES = ["cat", "dog", "bird"]
IMAGE_SIZE = (32, 32)
ALL_NETWORKS = [LmnetV1, LmnetV1Quantize, LmnetV0, LmnetV0Quantize, VGG16, Darknet19]
LMNETS = [LmnetV1, LmnetV1Quantize, LmnetV0, LmnetV0Quantize]
FLOAT_NETWORKS = [cls for cls in ALL_NETWORKS if not cls.quantized]
QUANTIZED_NETWORKS = [cls for cls in ALL_NETWORKS if cls.quantized]
ACTIVATION_KWARGS = {"bit": 2, "max_value": 2.0}


def quantizer_kwargs():
    """Network keyword arguments of a 2-bit activation / binary weight setup."""
    return {"activation_quantizer": linear_mid_tread_half, "activation_quantizer_kwargs": dict(ACTIVATION_KWARGS),
            "weight_quantizer": binary_mean_scaling}


def make_network(cls, classes=CLASSES, image_size=IMAGE_SIZE, **kwargs):
    """Builds ``cls``, adding the quantizers when it is a quantized network."""
    if cls.quantized:
        kwargs = {**quantizer_kwargs(), **kwargs}
    return cls(classes, image_size, **kwargs)


def random_images(batch=2, image_size=IMAGE_SIZE, seed=0):
    """Random float32 images in [0, 1]."""
    return np.random.default_rng(seed).uniform(0, 1, (batch, *image_size, 3)).astype(np.float32)


def layers_of(model, layer_type):
    """``{name: layer}`` of the layers of ``model`` that are exactly ``layer_type``."""
    return {layer.name: layer for layer in model.layers if type(layer) is layer_type}


# output --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("cls", ALL_NETWORKS, ids=lambda cls: cls.__name__)
def test_output_is_a_probability_per_class(cls):
    network = make_network(cls)
    output = network.model(random_images(), training=False).numpy()
    assert output.shape == (2, len(CLASSES))
    assert (output >= 0).all()
    np.testing.assert_allclose(output.sum(axis=-1), 1.0, rtol=1e-5)
    assert network.logits_model(random_images(), training=False).shape == (2, len(CLASSES))


@pytest.mark.parametrize("cls", [LmnetV1, LmnetV0], ids=lambda cls: cls.__name__)
def test_non_square_input(cls):
    network = make_network(cls, image_size=(32, 64))
    assert network.model(random_images(1, (32, 64))).shape == (1, len(CLASSES))


# parameter counts ----------------------------------------------------------------------------------------------

def bn(channels):
    """Batch-norm weights: gamma, beta, moving mean and moving variance per channel."""
    return 4 * channels


def test_lmnet_v1_parameter_count():
    classes = 10
    expected = (
        3 * 3 * 3 * 32 + bn(32)                # conv1 on RGB
        + 3 * 3 * 32 * 64 + bn(64)             # conv2
        + 3 * 3 * (64 * 4) * 128 + bn(128)     # conv3 after s2d (64 * 4 channels)
        + 3 * 3 * 128 * 64 + bn(64)            # conv4
        + 3 * 3 * (64 * 4) * 128 + bn(128)     # conv5 after s2d
        + 1 * 1 * (128 * 4) * 64 + bn(64)      # conv6 after s2d
        + 1 * 1 * 64 * classes + classes       # conv7 with bias
    )
    assert expected == 864 + 128 + 18432 + 256 + 294912 + 512 + 73728 + 256 + 294912 + 512 + 32768 + 256 + 650
    for cls in (LmnetV1, LmnetV1Quantize):
        assert make_network(cls, classes=[str(i) for i in range(classes)]).model.count_params() == expected


def test_lmnet_v0_parameter_count():
    classes = 10
    expected = (
        3 * 3 * 3 * 32 + bn(32)                # conv1 (max pooling has no weights)
        + 3 * 3 * 32 * 64 + bn(64)             # conv2
        + 3 * 3 * 64 * 128 + bn(128)           # conv3
        + 3 * 3 * 128 * 256 + bn(256)          # conv4
        + 3 * 3 * 256 * 256 + bn(256)          # conv5
        + 1 * 1 * 256 * 64 + bn(64)            # conv6
        + 1 * 1 * 64 * classes + classes       # conv7 with bias
    )
    assert expected == 864 + 128 + 18432 + 256 + 73728 + 512 + 294912 + 1024 + 589824 + 1024 + 16384 + 256 + 650
    for cls in (LmnetV0, LmnetV0Quantize):
        assert make_network(cls, classes=[str(i) for i in range(classes)]).model.count_params() == expected


def test_darknet19_layers_follow_the_published_order():
    published = [(32, 3), (64, 3), (128, 3), (64, 1), (128, 3), (256, 3), (128, 1), (256, 3), (512, 3), (256, 1),
                 (512, 3), (256, 1), (512, 3), (1024, 3), (512, 1), (1024, 3), (512, 1), (1024, 3)]
    model = make_network(Darknet19).model
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [conv.name for conv in convs] == [f"conv{i}" for i in range(1, 20)]
    assert [(conv.filters, conv.kernel_size[0]) for conv in convs] == published + [(len(CLASSES), 1)]
    assert not any(conv.use_bias for conv in convs[:-1]) and convs[-1].use_bias
    for i in range(1, 19):
        assert isinstance(model.get_layer(f"conv{i}_bn"), keras.layers.BatchNormalization)
        assert model.get_layer(f"conv{i}_act").negative_slope == pytest.approx(0.1)
    assert len(layers_of(model, keras.layers.MaxPooling2D)) == 5
    channels_in = [3] + [filters for filters, _ in published]
    expected = sum(k * k * c * f + bn(f) for (f, k), c in zip(published, channels_in))
    expected += 1024 * len(CLASSES) + len(CLASSES)
    assert model.count_params() == expected


def test_vgg16_is_sized_to_the_input():
    model = make_network(VGG16, image_size=(32, 64)).model
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [conv.filters for conv in convs] == [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
    assert all(conv.use_bias and conv.kernel_size == (3, 3) for conv in convs)
    assert not layers_of(model, keras.layers.BatchNormalization)
    assert len(layers_of(model, keras.layers.MaxPooling2D)) == 5
    assert tuple(model.get_layer("fc6").kernel.shape) == (1 * 2 * 512, 4096)
    assert tuple(model.get_layer("fc7").kernel.shape) == (4096, 4096)
    assert tuple(model.get_layer("fc8").kernel.shape) == (4096, len(CLASSES))


# quantizer placement -------------------------------------------------------------------------------------------

def weight_quantizers(model):
    """``{conv name: kernel quantizer name or None}`` of every ``QuantizedConv2D``."""
    return {name: layer.weight_quantizer for name, layer in layers_of(model, QuantizedConv2D).items()}


@pytest.mark.parametrize("cls", [LmnetV1Quantize, LmnetV0Quantize], ids=lambda cls: cls.__name__)
@pytest.mark.parametrize("first, last", [(None, None), (False, True), (True, True), (False, False)])
def test_weight_quantizers_follow_the_switches(cls, first, last):
    network = make_network(cls, quantize_first_convolution=first, quantize_last_convolution=last)
    quantize_first = True if first is None else first   # defaults: first quantized, last float
    quantize_last = False if last is None else last
    expected = {f"conv{i}": "binary_mean_scaling" for i in range(1, 8)}
    expected["conv1"] = "binary_mean_scaling" if quantize_first else None
    expected["conv7"] = "binary_mean_scaling" if quantize_last else None
    assert weight_quantizers(network.model) == expected


@pytest.mark.parametrize("cls", [LmnetV1Quantize, LmnetV0Quantize], ids=lambda cls: cls.__name__)
def test_activation_quantizers_follow_conv1_to_conv5(cls):
    model = make_network(cls).model
    activations = layers_of(model, QuantizedActivation)
    assert sorted(activations) == [f"conv{i}_act" for i in range(1, 6)]
    for i in range(1, 6):
        layer = activations[f"conv{i}_act"]
        assert layer.input._keras_history.operation.name == f"conv{i}_bn"
        assert layer.activation_quantizer == "linear_mid_tread_half"
        assert layer.activation_quantizer_kwargs == ACTIVATION_KWARGS
    assert isinstance(model.get_layer("conv6_act"), keras.layers.ReLU)


@pytest.mark.parametrize("cls", [LmnetV1, LmnetV0], ids=lambda cls: cls.__name__)
def test_float_lmnet_has_no_quantizer(cls):
    model = make_network(cls).model
    assert set(weight_quantizers(model).values()) == {None}
    assert not layers_of(model, QuantizedActivation)


# config errors -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("cls", FLOAT_NETWORKS, ids=lambda cls: cls.__name__)
@pytest.mark.parametrize("key", ["activation_quantizer", "weight_quantizer"])
def test_float_network_ignores_a_quantizer_with_a_warning(cls, key):
    with pytest.warns(UserWarning, match=key.upper()):
        network = cls(CLASSES, IMAGE_SIZE, **{key: quantizer_kwargs()[key]})
    assert set(weight_quantizers(network.model).values()) <= {None}
    assert not layers_of(network.model, QuantizedActivation)


@pytest.mark.parametrize("cls", QUANTIZED_NETWORKS, ids=lambda cls: cls.__name__)
@pytest.mark.parametrize("key", ["activation_quantizer", "weight_quantizer"])
def test_quantized_network_needs_both_quantizers(cls, key):
    kwargs = quantizer_kwargs()
    del kwargs[key]
    with pytest.raises(ConfigError, match=key.upper()):
        cls(CLASSES, IMAGE_SIZE, **kwargs)


@pytest.mark.parametrize("cls", ALL_NETWORKS, ids=lambda cls: cls.__name__)
def test_image_size_must_be_divisible(cls):
    assert cls.size_divisor == (8 if cls in (LmnetV1, LmnetV1Quantize) else 32)
    bad_size = (cls.size_divisor * 4 + cls.size_divisor // 2, cls.size_divisor * 4)
    for image_size in (bad_size, bad_size[::-1]):
        with pytest.raises(ConfigError, match="IMAGE_SIZE"):
            make_network(cls, image_size=image_size)


# loss and training ---------------------------------------------------------------------------------------------

def numpy_cross_entropy(labels, logits):
    """Mean sparse softmax cross-entropy in float64."""
    logits = logits.astype(np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return -log_softmax[np.arange(len(labels)), labels].mean()


@pytest.mark.parametrize("cls", [LmnetV1, LmnetV0Quantize], ids=lambda cls: cls.__name__)
def test_compute_loss_is_cross_entropy_plus_weight_decay(cls):
    rate = 1e-3
    network = make_network(cls, weight_decay_rate=rate)
    model = network.training_model
    images, labels = random_images(4), np.array([0, 2, 1, 2])
    logits = model(images, training=False)
    loss = float(network.compute_loss(labels, logits, model))
    kernels = [layer.kernel.numpy().astype(np.float64) for layer in model.layers if hasattr(layer, "kernel")]
    assert len(kernels) == 7
    decay = sum(np.sum(kernel ** 2) for kernel in kernels) / 2 * rate
    expected = numpy_cross_entropy(labels, logits.numpy()) + decay
    assert loss == pytest.approx(expected, rel=1e-5)
    no_decay = make_network(cls).compute_loss(labels, logits, model)
    assert float(no_decay) == pytest.approx(numpy_cross_entropy(labels, logits.numpy()), rel=1e-5)


def train_losses(network, images, labels, steps):
    """Runs ``steps`` optimizer steps on one fixed batch and returns the training losses."""
    model = network.training_model
    optimizer = network.create_optimizer()
    losses = []
    for _ in range(steps):
        with tf.GradientTape() as tape:
            loss = network.compute_loss(labels, model(images, training=True), model)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        losses.append(float(loss))
    return losses


@pytest.mark.parametrize("cls", LMNETS, ids=lambda cls: cls.__name__)
def test_loss_decreases_on_a_fixed_batch(cls):
    keras.utils.set_random_seed(0)
    network = make_network(cls, weight_decay_rate=1e-4, optimizer_class=keras.optimizers.SGD,
                           optimizer_kwargs={"learning_rate": 0.01, "momentum": 0.9})
    images, labels = random_images(8), np.arange(8) % len(CLASSES)
    losses = train_losses(network, images, labels, steps=10)
    assert all(np.isfinite(losses))
    assert np.mean(losses[-3:]) < 0.7 * np.mean(losses[:3]), losses
