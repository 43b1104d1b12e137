"""bf16 mixed precision (``MIXED_PRECISION = "mixed_bfloat16"``): validation, training, checkpoints, export."""
import math
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from lmnet import builders, config as config_module, mixed_precision
from lmnet.checkpoint_io import restore_weights, weight_map
from lmnet.errors import ConfigError
from lmnet.export import exporter
from lmnet.quantizations import get_quantizer
from tests.conftest import (patch_output_and_data_dirs, train_experiment, write_tiny_config,
                            write_tiny_detection_config)

BF16 = "MIXED_PRECISION = 'mixed_bfloat16'\n"
CLASSES = ["circle", "square", "triangle"]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """OUTPUT_DIR / DATA_DIR in a temporary folder for the whole module."""
    root = tmp_path_factory.mktemp("mixed")
    patch = patch_output_and_data_dirs(root)
    from lmnet.environment import Environment
    yield {"root": str(root), "environment": Environment.from_env()}
    patch.undo()


@pytest.fixture(scope="module")
def bf16_run(workspace):
    """The tiny classifier trained 10 steps under mixed_bfloat16."""
    path = write_tiny_config(workspace["root"], name="bf16.py", max_steps=10, save_steps=10, test_steps=10,
                             extra=BF16)
    trainer, results = train_experiment(workspace["environment"], path, "bf16")
    return trainer, results


def test_key_accepts_mixed_bfloat16_and_defaults_to_none(tmp_path):
    assert config_module.load(write_tiny_config(str(tmp_path), extra=BF16)).MIXED_PRECISION == "mixed_bfloat16"
    assert config_module.load(write_tiny_config(str(tmp_path), name="plain.py")).MIXED_PRECISION is None


@pytest.mark.parametrize("value", ["'float16'", "'mixed_float16'", "'bfloat16'"])
def test_unknown_policy_is_a_config_error(tmp_path, value):
    path = write_tiny_config(str(tmp_path), extra=f"MIXED_PRECISION = {value}\n")
    with pytest.raises(ConfigError, match=r"MIXED_PRECISION.*None, 'mixed_bfloat16'"):
        config_module.load(path)  # rejected when the config is read, before anything is built


def test_non_string_policy_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="MIXED_PRECISION"):
        config_module.load(write_tiny_config(str(tmp_path), extra="MIXED_PRECISION = 16\n"))


def test_dtype_policy_is_restored_on_error():
    before = keras.config.dtype_policy().name
    with pytest.raises(RuntimeError):
        with mixed_precision.dtype_policy("mixed_bfloat16"):
            assert keras.config.dtype_policy().name == "mixed_bfloat16"
            raise RuntimeError("boom")
    assert keras.config.dtype_policy().name == before == "float32"


def test_bf16_training_dtypes(bf16_run):
    trainer, results = bf16_run
    model = trainer.network.model
    assert keras.config.dtype_policy().name == "float32"
    conv = model.get_layer("conv2")
    assert conv.compute_dtype == "bfloat16"
    assert model.get_layer("conv2_bn").compute_dtype == "bfloat16"
    float_variables = [v for v in model.variables if "int" not in v.dtype]  # not dropout's int64 seed
    assert float_variables and all(variable.dtype == "float32" for variable in float_variables)
    images = np.random.default_rng(0).random((2, 16, 16, 3), dtype=np.float32)
    assert model(images, training=False).dtype == tf.float32
    assert math.isfinite(results["loss"])


def test_bf16_quantized_kernel_is_float32_quantization_cast(bf16_run):
    trainer, _ = bf16_run
    conv = trainer.network.model.get_layer("conv3")
    float_kernel = tf.convert_to_tensor(conv.kernel.value)
    assert float_kernel.dtype == tf.float32
    expected = tf.cast(get_quantizer(conv.weight_quantizer)(float_kernel, **conv.weight_quantizer_kwargs),
                       tf.bfloat16)
    quantized = conv.quantized_kernel()
    assert quantized.dtype == tf.bfloat16
    np.testing.assert_array_equal(quantized.numpy(), expected.numpy())


def test_loss_and_weight_decay_are_float32(bf16_run):
    trainer, _ = bf16_run
    network = trainer.network
    images = np.random.default_rng(1).random((4, 16, 16, 3), dtype=np.float32)
    outputs = network.training_model(images, training=False)
    assert outputs.dtype == tf.bfloat16
    loss = network.compute_loss(np.array([0, 1, 2, 0]), outputs, network.training_model)
    assert loss.dtype == tf.float32 and np.isfinite(loss.numpy())
    assert network.weight_decay(network.training_model).dtype == tf.float32


def test_float32_network_after_bf16_build(bf16_run, tmp_path):
    config = config_module.load(write_tiny_config(str(tmp_path)))
    network = builders.build_network(config, CLASSES)
    assert network.model.get_layer("conv2").compute_dtype == "float32"
    assert network.model.get_layer("output").compute_dtype == "float32"


def _assert_same_weights(restored, trained):
    """Every variable of ``restored`` is float32 (or an integer seed) and equals ``trained``'s."""
    expected = weight_map(trained)
    for key, variable in weight_map(restored).items():
        assert variable.dtype in ("float32", "int64"), key
        np.testing.assert_array_equal(variable.numpy(), expected[key].numpy(), err_msg=key)


def _checkpoint(trainer):
    return trainer.keeper.manager.latest_checkpoint


def test_bf16_checkpoint_restores_into_float32(bf16_run, tmp_path):
    trainer, _ = bf16_run
    config = config_module.load(write_tiny_config(str(tmp_path)))
    network = builders.build_network(config, trainer.network.classes)
    restore_weights(network.model, _checkpoint(trainer))
    _assert_same_weights(network.model, trainer.network.model)


def test_float32_checkpoint_restores_into_bf16(workspace, tmp_path):
    path = write_tiny_config(workspace["root"], name="f32.py", max_steps=3, save_steps=3, test_steps=3)
    trainer, _ = train_experiment(workspace["environment"], path, "f32")
    config = config_module.load(write_tiny_config(str(tmp_path), extra=BF16))
    network = builders.build_network(config, trainer.network.classes)
    restore_weights(network.model, _checkpoint(trainer))
    _assert_same_weights(network.model, trainer.network.model)


def test_bf16_detection_trains(workspace):
    path = write_tiny_detection_config(workspace["root"], name="det_bf16.py", max_steps=3, save_steps=3,
                                       test_steps=3)
    with open(path, "a") as stream:
        stream.write(BF16)
    trainer, results = train_experiment(workspace["environment"], path, "det_bf16")
    model = trainer.network.model
    assert model.get_layer("output").compute_dtype == "float32"
    convolutions = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [layer.compute_dtype for layer in convolutions[:-1]] == ["bfloat16"] * (len(convolutions) - 1)
    assert math.isfinite(results["loss"])
    assert keras.config.dtype_policy().name == "float32"


def test_export_of_bf16_experiment_is_float32(bf16_run, workspace):
    result = exporter.export_experiment("bf16", environment=workspace["environment"], metric_samples=8,
                                        calibration_samples=8, log=lambda line: None)
    graph_def = tf.compat.v1.GraphDef()
    with open(os.path.join(result.directory, "minimal_graph_with_shape.pb"), "rb") as stream:
        graph_def.ParseFromString(stream.read())
    nodes = {node.name: node for node in graph_def.node}
    assert nodes["images_placeholder"].attr["dtype"].type == tf.float32.as_datatype_enum
    assert not any(attr.type == tf.bfloat16.as_datatype_enum for node in graph_def.node
                   for attr in node.attr.values())
