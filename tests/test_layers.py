"""Tests of lmnet.layers: space-to-depth, the quantized convolution and activation, the blocks."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from lmnet.layers import QuantizedActivation, QuantizedConv2D, SpaceToDepth, conv_block, darknet_block, lmnet_block
from tests.test_quantizations import REFERENCES, linear_gradient_reference, linear_reference

WEIGHT_QUANTIZERS = sorted(REFERENCES)


def space_to_depth_reference(x, block_size):
    """NumPy space-to-depth (NHWC): depth index ``(row_in_block * b + column_in_block) * c + channel``."""
    n, h, w, c = x.shape
    b = block_size
    blocks = x.reshape(n, h // b, b, w // b, b, c).transpose(0, 1, 3, 2, 4, 5)
    return blocks.reshape(n, h // b, w // b, b * b * c)


# SpaceToDepth ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("block_size, shape", [(2, (2, 4, 6, 3)), (2, (1, 8, 8, 1)), (4, (1, 8, 4, 2))])
def test_space_to_depth_matches_references(block_size, shape):
    x = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    output = SpaceToDepth(block_size, name="s2d")(x).numpy()
    np.testing.assert_array_equal(output, space_to_depth_reference(x, block_size))
    np.testing.assert_array_equal(output, tf.nn.space_to_depth(x, block_size).numpy())


def test_space_to_depth_shape_and_config():
    layer = SpaceToDepth(2, name="s2d")
    assert layer.compute_output_shape((None, 16, 8, 5)) == (None, 8, 4, 20)
    assert layer.compute_output_shape((None, None, None, 5)) == (None, None, None, 20)
    symbolic = layer(keras.Input(shape=(16, 8, 5)))
    assert tuple(symbolic.shape) == (None, 8, 4, 20)
    restored = SpaceToDepth.from_config(layer.get_config())
    assert restored.block_size == 2 and restored.name == "s2d"


# QuantizedConv2D -------------------------------------------------------------------------------------------------

def build_conv(quantizer, filters=5, kernel_size=3, seed=0):
    """A built ``QuantizedConv2D`` on 4 input channels, with a random kernel containing zeros."""
    layer = QuantizedConv2D(filters, kernel_size, padding="same", use_bias=False, weight_quantizer=quantizer,
                            name="qconv")
    layer.build((None, 6, 6, 4))
    kernel = np.random.default_rng(seed).normal(size=layer.kernel.shape).astype(np.float32)
    kernel.flat[::9] = 0.0
    layer.kernel.assign(kernel)
    return layer


def float_conv(inputs, kernel):
    """Float 'same' convolution with ``kernel``."""
    return tf.nn.conv2d(inputs, kernel, strides=1, padding="SAME")


def random_inputs(seed=1, shape=(2, 6, 6, 4)):
    """Random float32 images."""
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


@pytest.mark.parametrize("quantizer", WEIGHT_QUANTIZERS)
def test_quantized_conv_forward_uses_quantized_kernel(quantizer):
    layer = build_conv(quantizer)
    x = random_inputs()
    expected_kernel = REFERENCES[quantizer](layer.kernel.numpy())
    np.testing.assert_allclose(layer.quantized_kernel().numpy(), expected_kernel, rtol=1e-5, atol=1e-7)
    expected = float_conv(x, expected_kernel.astype(np.float32)).numpy()
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("quantizer", WEIGHT_QUANTIZERS)
def test_quantized_conv_gradient_is_straight_through(quantizer):
    layer = build_conv(quantizer)
    x = random_inputs()
    upstream = random_inputs(seed=2, shape=(2, 6, 6, 5))
    with tf.GradientTape() as tape:
        objective = tf.reduce_sum(layer(x) * upstream)
    float_gradient = tape.gradient(objective, layer.kernel)

    quantized_kernel = tf.Variable(REFERENCES[quantizer](layer.kernel.numpy()).astype(np.float32))
    with tf.GradientTape() as tape:
        objective = tf.reduce_sum(float_conv(x, quantized_kernel) * upstream)
    quantized_gradient = tape.gradient(objective, quantized_kernel)
    np.testing.assert_allclose(float_gradient.numpy(), quantized_gradient.numpy(), rtol=1e-4, atol=1e-4)


def test_float_quantized_conv_is_a_conv():
    layer = build_conv(None)
    x = random_inputs()
    assert layer.quantized_kernel() is layer.kernel
    np.testing.assert_allclose(layer(x).numpy(), float_conv(x, layer.kernel).numpy(), rtol=1e-5, atol=1e-5)


def test_quantized_conv_config_round_trip():
    layer = QuantizedConv2D(8, 3, weight_quantizer="linear_mid_tread_half",
                            weight_quantizer_kwargs={"bit": 3, "max_value": 4.0}, name="qconv")
    config = layer.get_config()
    assert config["weight_quantizer"] == "linear_mid_tread_half"
    assert config["weight_quantizer_kwargs"] == {"bit": 3, "max_value": 4.0}
    restored = QuantizedConv2D.from_config(config)
    assert restored.weight_quantizer == "linear_mid_tread_half"
    assert restored.weight_quantizer_kwargs == {"bit": 3, "max_value": 4.0}


# QuantizedActivation ---------------------------------------------------------------------------------------------

def test_quantized_activation_equals_quantizer():
    layer = QuantizedActivation("linear_mid_tread_half", {"bit": 2, "max_value": 2.0}, name="act")
    x = np.random.default_rng(3).uniform(-1.0, 3.0, size=(2, 4, 4, 3)).astype(np.float32)
    x.flat[:3] = [0.0, 2.0, 1.0]
    upstream = np.random.default_rng(4).normal(size=x.shape).astype(np.float32)
    source = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(source)
        output = layer(source)
        objective = tf.reduce_sum(output * upstream)
    np.testing.assert_allclose(output.numpy(), linear_reference(x, 2, 2.0), rtol=1e-6)
    np.testing.assert_array_equal(tape.gradient(objective, source).numpy(), linear_gradient_reference(x, upstream))
    assert layer.compute_output_shape((None, 4, 4, 3)) == (None, 4, 4, 3)
    restored = QuantizedActivation.from_config(layer.get_config())
    assert restored.activation_quantizer_kwargs == {"bit": 2, "max_value": 2.0}


def test_quantized_activation_unknown_quantizer_is_config_error():
    from lmnet.errors import ConfigError
    with pytest.raises(ConfigError):
        QuantizedActivation("no_such_quantizer")


# blocks ----------------------------------------------------------------------------------------------------------

def block_layers(block, **kwargs):
    """Builds ``block`` on a small input and returns ``{name: layer}`` of the model's layers."""
    inputs = keras.Input(shape=(8, 8, 3))
    model = keras.Model(inputs, block(inputs, 4, 3, "blk", **kwargs))
    return {layer.name: layer for layer in model.layers[1:]}


def test_lmnet_block_is_conv_bn_relu():
    layers = block_layers(lmnet_block)
    assert list(layers) == ["blk", "blk_bn", "blk_act"]
    assert not layers["blk"].use_bias and layers["blk"].padding == "same"
    assert layers["blk_bn"].scale and layers["blk_bn"].center
    assert isinstance(layers["blk_act"], keras.layers.ReLU)


def test_darknet_block_uses_leaky_relu():
    act = block_layers(darknet_block)["blk_act"]
    assert isinstance(act, keras.layers.LeakyReLU)
    assert act.negative_slope == pytest.approx(0.1)


def test_conv_block_quantizers():
    layers = block_layers(conv_block, weight_quantizer=("binary_mean_scaling", {}),
                          activation_quantizer=("linear_mid_tread_half", {"bit": 2, "max_value": 2.0}))
    assert layers["blk"].weight_quantizer == "binary_mean_scaling"
    assert isinstance(layers["blk_act"], QuantizedActivation)
    assert list(block_layers(conv_block, activation="linear")) == ["blk", "blk_bn"]
