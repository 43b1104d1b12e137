"""FROZEN_LAYERS: frozen layers keep their weights and batch-norm statistics; bad patterns are named."""
import numpy as np
import pytest

from lmnet import config as config_module
from lmnet.errors import ConfigError
from tests.conftest import write_tiny_config
from tests.test_training import train, weights

FROZEN = 'FROZEN_LAYERS = ["conv1*"]\n'


def test_frozen_layers_keep_their_weights_while_the_others_train(tmp_path, environment):
    before, _ = train(environment, write_tiny_config(str(tmp_path), name="start.py", max_steps=1), "start")
    start = weights(before)
    extra = FROZEN + f"IS_PRETRAIN = True\nPRETRAIN_DIR = {environment.experiment('start').checkpoints!r}\n" \
                     f"PRETRAIN_FILE = 'save.ckpt-1'\n"
    trainer, _ = train(environment, write_tiny_config(str(tmp_path), name="frozen.py", max_steps=4, extra=extra),
                       "frozen")
    assert trainer.frozen_layers == ["conv1", "conv1_bn", "conv1_act"]
    after = weights(trainer)
    frozen = [name for name in start if name.split("/")[0].startswith("conv1")]
    assert any(name.endswith("moving_mean") for name in frozen)
    for name in frozen:
        np.testing.assert_array_equal(after[name], start[name], err_msg=name)
    assert not np.array_equal(after["conv2/kernel"], start["conv2/kernel"])
    trainable = {id(v) for v in trainer.network.model.trainable_variables}  # what the optimizer updates
    assert not any(id(v) in trainable for name in ("conv1", "conv1_bn")
                   for v in trainer.network.model.get_layer(name).weights)
    saved = config_module.load(environment.experiment("frozen").config_yaml)
    assert saved.FROZEN_LAYERS == ["conv1*"]


def test_a_pattern_matching_no_layer_is_named(tmp_path, environment):
    path = write_tiny_config(str(tmp_path), max_steps=1, extra='FROZEN_LAYERS = ["block_9*"]\n')
    with pytest.raises(ConfigError, match=r"FROZEN_LAYERS: 'block_9\*' matches no layer of .*conv1"):
        train(environment, path)
