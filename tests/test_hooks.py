"""Training hooks: each job after a step is one hook, run in order at its period and on the last step."""
import glob

from lmnet import config as config_module, experiment
from lmnet.training.hooks import (BestCheckpoint, FiniteWeightsCheck, Hook, PredictionImages, RotatingCheckpoint,
                                  TrainSummaries, Validation, default_hooks)
from lmnet.training.trainer import Trainer
from tests.conftest import write_tiny_config


class Recorder(Hook):
    """A new job: records the steps it ran after and the loss it saw."""

    def __init__(self, every):
        self.every, self.seen = every, []

    def period(self, config):
        return self.every

    def after_step(self, trainer, context):
        self.seen.append((context.step, float(context.loss), context.last))


def test_default_hooks_run_in_dependency_order():
    expected = [TrainSummaries, FiniteWeightsCheck, BestCheckpoint, RotatingCheckpoint, Validation, PredictionImages]
    assert [type(hook) for hook in default_hooks()] == expected
    assert all(hook.chief_only for hook in default_hooks())


def test_a_new_hook_runs_at_its_period_and_on_the_last_step(tmp_path, environment):
    config = config_module.load(write_tiny_config(str(tmp_path), max_steps=7, save_steps=7, test_steps=7))
    paths = environment.experiment("hooks")
    experiment.prepare(config, None, paths, log=lambda *_: None)
    recorder = Recorder(3)
    results = Trainer(config, paths, environment.data_dir, progress=False, log=lambda *_: None,
                      hooks=default_hooks() + [recorder]).run()
    assert [(step, last) for step, _, last in recorder.seen] == [(3, False), (6, False), (7, True)]
    assert all(loss > 0 for _, loss, _ in recorder.seen)
    assert "accuracy" in results  # the Validation hook's metrics are the run's result


def test_without_the_checkpoint_hooks_nothing_is_saved(tmp_path, environment):
    config = config_module.load(write_tiny_config(str(tmp_path), max_steps=4, save_steps=2, test_steps=4))
    paths = environment.experiment("nosave")
    experiment.prepare(config, None, paths, log=lambda *_: None)
    hooks = [hook for hook in default_hooks() if not isinstance(hook, RotatingCheckpoint)]
    Trainer(config, paths, environment.data_dir, progress=False, log=lambda *_: None, hooks=hooks).run()
    assert glob.glob(f"{paths.checkpoints}/save.ckpt-*") == []
