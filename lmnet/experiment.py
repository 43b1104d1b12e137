"""Preparing an experiment directory: create, resume or recreate, never silently overwrite."""
import os
import shutil

import yaml

from lmnet import config as config_module
from lmnet.environment import LOCK_FILE
from lmnet.errors import ExperimentError

#: Keys that may change between runs of one experiment: to train longer or save more often; to move the
#: run to another number of workers (the global batch, and so the training, stays the same); to tune the
#: input pipeline's speed; and the pre-training keys, which only act before the first checkpoint.
RESUMABLE_CHANGES = ("MAX_STEPS", "MAX_EPOCHS", "TEST_STEPS", "SUMMARISE_STEPS", "SAVE_CHECKPOINT_STEPS",
                     "KEEP_CHECKPOINT_MAX", "IS_DISTRIBUTION", "DISTRIBUTION_STRATEGY", "DATASET.ENABLE_PREFETCH",
                     "DATASET.NUM_PARALLEL_CALLS", "IS_PRETRAIN", "PRETRAIN_VARS", "PRETRAIN_DIR", "PRETRAIN_FILE")


def prepare(config, source_path, paths, recreate=False, log=print):
    """Makes the experiment directory ready for training.

    A new experiment is created; an existing one is resumed when its saved config matches (keys in
    :data:`RESUMABLE_CHANGES` may differ) and deleted first when ``recreate`` is true.

    Raises:
        ExperimentError: the experiment exists with a different config and ``recreate`` is false.
    """
    if recreate and os.path.exists(paths.root):
        remove_lmnet_entries(paths, log)
    if os.path.exists(paths.config_yaml):
        _check_resumable(config, paths)
    config_module.save_experiment_config(config, source_path, paths)
    os.makedirs(paths.checkpoints, exist_ok=True)
    os.makedirs(paths.tensorboard, exist_ok=True)


def remove_lmnet_entries(paths, log=print):
    """``--recreate``: deletes what lmnet wrote into the experiment folder, and only that.

    Removes the entries of :meth:`lmnet.environment.ExperimentPaths.lmnet_entries` that exist,
    naming each; other files stay, and are listed. Never follows a symbolic link out of the folder
    (a link is removed, not its target).

    Returns:
        The removed paths.
    """
    removed = []
    for name in paths.lmnet_entries():
        path = os.path.join(paths.root, name)
        if os.path.islink(path) or os.path.isfile(path):
            os.remove(path)
        elif os.path.isdir(path):
            shutil.rmtree(path)
        else:
            continue
        removed.append(path)
    log(f"--recreate: removed from {paths.root}: {', '.join(os.path.basename(p) for p in removed) or 'nothing'}")
    kept = sorted(set(os.listdir(paths.root)) - set(paths.lmnet_entries()) - {LOCK_FILE})
    if kept:
        log(f"--recreate: kept what lmnet did not write: {', '.join(kept)}")
    return removed


def _check_resumable(config, paths):
    with open(paths.config_yaml) as stream:
        saved = yaml.safe_load(stream) or {}
    current = config_module.to_yaml_data(config)
    changed = sorted(_changed_keys(saved, current))
    blocking = [key for key in changed if key not in RESUMABLE_CHANGES and not key.startswith("NETWORK.LEARNING_RATE")]
    if blocking:
        raise ExperimentError(f"experiment {paths.root} exists with a different config (changed: "
                              f"{', '.join(blocking)}); use --recreate to start over or another -i")


def _changed_keys(saved, current, prefix=""):
    for key in sorted(set(saved) | set(current)):
        old, new = saved.get(key), current.get(key)
        if isinstance(old, dict) and isinstance(new, dict) and key in ("NETWORK", "DATASET"):
            yield from _changed_keys(old, new, prefix=f"{key}.")
        elif old != new:
            yield prefix + key


def load_experiment_config(paths, config_file=None, network=None, dataset=None):
    """The config of an existing experiment: ``config_file`` if given, else its ``config.yaml``.

    Raises:
        ExperimentError: the experiment has no saved config and none was given.
    """
    if config_file is None:
        if not os.path.exists(paths.config_yaml):
            raise ExperimentError(f"experiment {paths.root} has no config.yaml; train it first or pass -c")
        config_file = paths.config_yaml
    return config_module.load(config_file, network=network, dataset=dataset)
