"""EMA_DECAY: the weight average's arithmetic, its place in checkpoints, exact resume and who reads it."""
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from lmnet import config as config_module
from lmnet.checkpoint_io import AVERAGED_WEIGHTS, restore_weights, weight_map
from lmnet.errors import ConfigError
from lmnet.training.weight_average import WeightAverage
from tests.conftest import write_tiny_config
from tests.test_training import train, weights

EMA = "EMA_DECAY = 0.9\nEMA_RAMP_STEPS = 4\n"


def small_model():
    inputs = keras.Input((4,))
    outputs = keras.layers.BatchNormalization(name="bn")(keras.layers.Dense(3, name="dense")(inputs))
    return keras.Model(inputs, outputs)


def test_update_follows_the_documented_formula_and_swapping_restores_the_raw_weights():
    model = small_model()
    average = WeightAverage(model, decay=0.9, ramp_steps=4)
    assert set(average.averages) == set(weight_map(model))  # kernels, biases and batch-norm statistics
    kernel = weight_map(model)["dense/kernel"]
    expected = kernel.numpy().copy()
    for step in (1, 2, 3):
        kernel.assign(kernel.numpy() + 1.0)
        average.update(tf.constant(step))
        decay = 0.9 * (1 - math.exp(-step / 4))
        expected = decay * expected + (1 - decay) * kernel.numpy()
    np.testing.assert_allclose(average.averages["dense/kernel"].numpy(), expected, rtol=1e-6)
    raw = kernel.numpy().copy()
    with average.swapped_in():
        np.testing.assert_array_equal(kernel.numpy(), average.averages["dense/kernel"].numpy())
    np.testing.assert_array_equal(kernel.numpy(), raw)


def test_checkpoints_hold_the_average_and_readers_restore_it(tmp_path, environment):
    trainer, _ = train(environment, write_tiny_config(str(tmp_path), max_steps=4, save_steps=4, test_steps=4,
                                                      extra=EMA))
    names = {name for name, _ in tf.train.list_variables(trainer.keeper.latest)}
    assert any(name.startswith(AVERAGED_WEIGHTS + "/conv1.Skernel") for name in names)  # "/" is escaped
    averages = {key: value.numpy() for key, value in trainer.weight_average.averages.items()}
    raw = weights(trainer)
    assert not np.array_equal(averages["conv1/kernel"], raw["conv1/kernel"])
    fresh, _ = train(environment, write_tiny_config(str(tmp_path), name="other.py", max_steps=1, test_steps=1), "other")
    restore_weights(fresh.network.model, trainer.keeper.latest)
    restored = weight_map(fresh.network.model)
    for key, value in averages.items():
        np.testing.assert_array_equal(restored[key].numpy(), value, err_msg=key)
    np.testing.assert_array_equal(restored["dropout/seed_generator_state"].numpy(),
                                  raw["dropout/seed_generator_state"])  # not a float: read from the raw weights


def test_resume_continues_weights_and_averages_bitwise(tmp_path, environment):
    """Six steps straight equal three, a resume, then three more (raw weights and averages)."""

    def config(name, steps):
        return write_tiny_config(str(tmp_path), name=name, max_steps=steps, save_steps=3, test_steps=6, extra=EMA)
    straight, _ = train(environment, config("a.py", 6), "straight")
    train(environment, config("b.py", 3), "resumed")
    resumed, _ = train(environment, config("b.py", 6), "resumed")
    assert resumed.step == 6
    for name, value in weights(straight).items():
        np.testing.assert_array_equal(weights(resumed)[name], value, err_msg=name)
    for name, value in straight.weight_average.averages.items():
        np.testing.assert_array_equal(resumed.weight_average.averages[name].numpy(), value.numpy(), err_msg=name)


def test_a_decay_of_one_is_refused(tmp_path, environment):
    with pytest.raises(ConfigError, match=r"EMA_DECAY: expected a number in \[0, 1\), got 1.0"):
        train(environment, write_tiny_config(str(tmp_path), max_steps=2, extra="EMA_DECAY = 1.0\n"))


def test_ema_keys_are_validated_when_the_config_loads(tmp_path):
    with pytest.raises(ConfigError, match="EMA_RAMP_STEPS"):
        config_module.load(write_tiny_config(str(tmp_path), extra="EMA_DECAY = 0.9\nEMA_RAMP_STEPS = 0\n"))
