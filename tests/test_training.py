"""The training loop: checkpoints and retention, best checkpoint, summaries, exact resume, pre-training."""
import glob
import os

import numpy as np
import pytest
import tensorflow as tf

from lmnet import config as config_module, experiment
from lmnet.checkpoint_io import weight_map
from lmnet.errors import ConfigError, ExperimentError
from lmnet.training.trainer import Trainer
from tests.conftest import checkpoint_steps, write_tiny_config


def train(environment, config_path, experiment_id="exp", recreate=False):
    config = config_module.load(config_path)
    paths = environment.experiment(experiment_id)
    experiment.prepare(config, config_path, paths, recreate=recreate, log=lambda *_: None)
    trainer = Trainer(config, paths, environment.data_dir, progress=False, log=lambda *_: None)
    return trainer, trainer.run()


def weights(trainer):
    return {name: v.numpy() for name, v in weight_map(trainer.network.model).items()}


def event_tags(directory):
    tags = set()
    for path in glob.glob(os.path.join(directory, "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            tags.update(value.tag for value in event.summary.value)
    return tags


def test_training_keeps_newest_checkpoints_and_the_best_apart(tmp_path, environment):
    path = write_tiny_config(str(tmp_path), max_steps=20, save_steps=5, keep=2, test_steps=10, tvs=16)
    trainer, results = train(environment, path)
    paths = environment.experiment("exp")
    assert trainer.step == 20
    assert checkpoint_steps(paths.checkpoints) == [15, 20]
    best = checkpoint_steps(paths.best_checkpoints)
    assert len(best) == 1 and best[0] in (5, 10, 15, 20)
    assert 0.0 <= trainer.keeper.best_score.numpy() <= 1.0
    saved_best = tf.train.load_checkpoint(trainer.keeper.latest).get_tensor("best_score/.ATTRIBUTES/VARIABLE_VALUE")
    assert saved_best == trainer.keeper.best_score.numpy()  # a resumed run knows the best score so far
    assert set(results) == {"loss", "accuracy", "top5_accuracy"}
    assert os.path.exists(paths.config_py) and os.path.exists(paths.config_yaml)
    assert config_module.load(paths.config_yaml) == config_module.load(path)
    assert {"loss", "learning_rate", "accuracy", "input_images"} <= event_tags(os.path.join(paths.tensorboard, "train"))
    assert {"loss", "accuracy", "top5_accuracy"} <= event_tags(os.path.join(paths.tensorboard, "validation"))
    assert "accuracy" in event_tags(os.path.join(paths.tensorboard, "train_validation_saving"))


def test_resume_continues_to_the_same_weights(tmp_path, environment):
    straight, _ = train(environment, write_tiny_config(str(tmp_path), name="a.py", max_steps=14), "straight")
    write_tiny_config(str(tmp_path), name="b.py", max_steps=7)
    first, _ = train(environment, str(tmp_path / "b.py"), "resumed")
    assert first.step == 7
    resumed, _ = train(environment, write_tiny_config(str(tmp_path), name="b.py", max_steps=14), "resumed")
    assert resumed.step == 14
    assert float(resumed.optimizer.learning_rate) == pytest.approx(0.001)  # schedule position restored
    expected, actual = weights(straight), weights(resumed)
    assert expected.keys() == actual.keys()
    for name in expected:
        np.testing.assert_array_equal(actual[name], expected[name], err_msg=name)


def test_changed_config_is_refused_and_recreate_starts_over(tmp_path, environment):
    train(environment, write_tiny_config(str(tmp_path), max_steps=5))
    changed = write_tiny_config(str(tmp_path), name="changed.py", max_steps=5, extra="BATCH_SIZE = 4\n")
    with pytest.raises(ExperimentError, match="exists with a different config .*BATCH_SIZE.*--recreate"):
        train(environment, changed)
    trainer, _ = train(environment, changed, recreate=True)
    assert trainer.step == 5
    assert config_module.load(environment.experiment("exp").config_yaml).BATCH_SIZE == 4


def test_input_pipeline_speed_keys_may_change_on_resume(tmp_path, environment):
    paths = environment.experiment("exp")
    experiment.prepare(config_module.load(write_tiny_config(str(tmp_path))), None, paths, log=lambda *_: None)
    extra = "DATASET.NUM_PARALLEL_CALLS = 1\nDATASET.ENABLE_PREFETCH = False\n"
    faster = config_module.load(write_tiny_config(str(tmp_path), name="faster.py", extra=extra))
    experiment.prepare(faster, None, paths, log=lambda *_: None)
    assert config_module.load(paths.config_yaml).DATASET.NUM_PARALLEL_CALLS == 1


def test_finished_experiment_is_not_trained_again(tmp_path, environment):
    path = write_tiny_config(str(tmp_path), max_steps=5)
    train(environment, path)
    trainer, results = train(environment, path)
    assert trainer.step == 5 and "accuracy" in results


def test_pretrain_restores_only_the_selected_variables(tmp_path, environment):
    source, _ = train(environment, write_tiny_config(str(tmp_path), name="src.py", max_steps=5), "source")
    checkpoint = os.path.basename(source.keeper.latest)
    extra = f"""
IS_PRETRAIN = True
PRETRAIN_DIR = {environment.experiment("source").checkpoints!r}
PRETRAIN_FILE = {checkpoint!r}
PRETRAIN_VARS = ["conv1/*", "conv1_bn/*"]
"""
    path = write_tiny_config(str(tmp_path), name="dst.py", max_steps=5, extra=extra)
    config = config_module.load(path)
    paths = environment.experiment("target")
    experiment.prepare(config, path, paths, log=lambda *_: None)
    trainer = Trainer(config, paths, environment.data_dir, progress=False, log=lambda *_: None)
    trainer.restore()
    source_weights, target_weights = weights(source), weights(trainer)
    np.testing.assert_array_equal(target_weights["conv1/kernel"], source_weights["conv1/kernel"])
    np.testing.assert_array_equal(target_weights["conv1_bn/moving_mean"], source_weights["conv1_bn/moving_mean"])
    assert not np.array_equal(target_weights["conv2/kernel"], source_weights["conv2/kernel"])


def test_pretrain_pattern_matching_nothing_is_a_config_error(tmp_path, environment):
    extra = "IS_PRETRAIN = True\nPRETRAIN_DIR = '/nowhere'\nPRETRAIN_FILE = 'save.ckpt-1'\nPRETRAIN_VARS = ['nope/*']\n"
    path = write_tiny_config(str(tmp_path), extra=extra)
    with pytest.raises(ConfigError, match="PRETRAIN_VARS: 'nope/\\*' matches no variable"):
        train(environment, path)


def test_pretrain_checkpoint_missing_names_it_and_the_way_out(tmp_path, environment):
    extra = "IS_PRETRAIN = True\nPRETRAIN_DIR = '/nowhere'\nPRETRAIN_FILE = 'save.ckpt-3'\n"
    path = write_tiny_config(str(tmp_path), extra=extra)
    message = "IS_PRETRAIN: checkpoint /nowhere/save.ckpt-3 not found .*train the experiment that writes it"
    with pytest.raises(ExperimentError, match=message):
        train(environment, path)
    # Following the advice under the same id works: the pre-training keys may change on resume.
    trainer, _ = train(environment, write_tiny_config(str(tmp_path), name="scratch.py", max_steps=3))
    assert trainer.step == 3
    assert config_module.load(environment.experiment("exp").config_yaml).IS_PRETRAIN is False


def test_an_xla_compiled_run_resumes_to_the_same_weights(tmp_path, environment):
    jit = "JIT_COMPILE = True\n"
    straight, _ = train(environment, write_tiny_config(str(tmp_path), name="a.py", max_steps=10, extra=jit),
                        "straight")
    train(environment, write_tiny_config(str(tmp_path), name="b.py", max_steps=5, extra=jit), "resumed")
    resumed, _ = train(environment, write_tiny_config(str(tmp_path), name="b.py", max_steps=10, extra=jit),
                       "resumed")
    assert straight.config.JIT_COMPILE and resumed.step == 10
    expected, actual = weights(straight), weights(resumed)
    for name in expected:
        np.testing.assert_array_equal(actual[name], expected[name], err_msg=name)
