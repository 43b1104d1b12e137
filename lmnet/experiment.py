"""Experiments: preparing a directory (create, resume or recreate, never silently overwrite) and opening one.

:func:`open_experiment` is the one place where a tool that uses a trained experiment loads its config,
chooses its checkpoint, builds its network and restores the weights (evaluate, export, predict,
profile, measure latency).
"""
import dataclasses
import os
import shutil

import yaml

from lmnet import builders, config as config_module
from lmnet.checkpoint_io import latest_checkpoint, resolve_checkpoint, restore_weights
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


def load_experiment_config(paths, config_file=None, network=None, dataset=None, overrides=()):
    """The config of an existing experiment: ``config_file`` if given, else its ``config.yaml`` (``overrides``:
    ``--set KEY=VALUE`` strings applied on top).

    Raises:
        ExperimentError: the experiment has no saved config and none was given.
    """
    if config_file is None:
        if not os.path.exists(paths.config_yaml):
            raise ExperimentError(f"experiment {paths.root} has no config.yaml; train it first or pass -c")
        config_file = paths.config_yaml
    return config_module.load(config_file, network=network, dataset=dataset, overrides=overrides)


# ---------------------------------------------------------------- opening an experiment

@dataclasses.dataclass(frozen=True)
class OpenExperiment:
    """An experiment (or a config alone) with its network built and its checkpoint restored.

    Attributes:
        paths: the :class:`lmnet.environment.ExperimentPaths`, ``None`` for a config opened alone.
        config: the config the network was built from (after ``configure``).
        classes: the class names the network was built with.
        network: the network; its Keras model is ``network.model``.
        checkpoint: the restored checkpoint prefix, or ``None`` (random initial weights).
        loaded_config: the config as loaded, before ``configure`` (``config`` itself without it).
        dataset: the dataset the class names were read from, or ``None`` when none was read.
    """

    paths: object
    config: object
    classes: list
    network: object
    checkpoint: object
    loaded_config: object
    dataset: object = None


def validation_classes(config, data_dir):
    """Class source: the validation subset's dataset and its class names, checked against ``CLASSES``.

    A class source is called as ``source(config, data_dir)`` and returns ``(classes, dataset or None)``.

    Raises:
        DatasetError: the dataset cannot be read, or its classes differ from ``CLASSES``.
        ConfigError: the dataset class rejects an option.
    """
    dataset = builders.build_dataset(config, data_dir, "validation")
    return builders.dataset_classes(config, dataset), dataset


def config_or_validation_classes(config, data_dir):
    """Class source: the config's ``CLASSES``, else the validation subset's (no data read when they are set)."""
    if config.CLASSES:
        return list(config.CLASSES), None
    return validation_classes(config, data_dir)


def optional_checkpoint(paths, restore_path=None):
    """``restore_path``, else the experiment's newest checkpoint, else ``None`` (for tools that need no weights).

    Raises:
        ExperimentError: ``restore_path`` or the newest checkpoint is not a readable checkpoint.
    """
    if restore_path is not None or latest_checkpoint(paths.checkpoints) is not None:
        return resolve_checkpoint(paths, restore_path)
    return None


def open_config(config, data_dir, checkpoint=None, classes=validation_classes, mixed_precision=True, paths=None,
                loaded_config=None):
    """Builds the network of a validated ``config`` and restores ``checkpoint`` into it (unless ``None``).

    Args:
        config: the validated config.
        data_dir: the data root, for class sources that read a dataset.
        checkpoint: a checkpoint prefix, or ``None`` to keep the initial weights.
        classes: a class source (see :func:`validation_classes`).
        mixed_precision: passed to :func:`lmnet.builders.build_network` (export builds float32).
        paths: the experiment's paths, recorded in the result.
        loaded_config: the config as loaded when ``config`` was derived from it (default ``config``).

    Returns:
        An :class:`OpenExperiment`.

    Raises:
        ExperimentError: the checkpoint is missing, unreadable or does not fit the network.
    """
    names, dataset = classes(config, data_dir)
    network = builders.build_network(config, names, mixed_precision=mixed_precision)
    if checkpoint is not None:
        restore_weights(network.model, checkpoint)
    return OpenExperiment(paths=paths, config=config, classes=names, network=network, checkpoint=checkpoint,
                          loaded_config=config if loaded_config is None else loaded_config, dataset=dataset)


def open_experiment(environment, experiment_id, config_file=None, restore_path=None, network=None, dataset=None,
                    classes=validation_classes, require_checkpoint=True, configure=None, mixed_precision=True,
                    overrides=()):
    """Opens a trained experiment: loads its config, chooses the checkpoint, builds the network, restores it.

    In this order: the config (``config_file``, else the experiment's ``config.yaml``, with the ``-n`` /
    ``-d`` overrides ``network`` and ``dataset``); the checkpoint (``restore_path``, else the newest
    one, checked to be readable); ``configure(config)`` when given (e.g. another image size); the class
    names from ``classes``; the network; the restore.

    Args:
        environment: the :class:`lmnet.environment.Environment`.
        experiment_id: the experiment under ``environment.output_dir``.
        config_file: a config to use instead of the experiment's ``config.yaml``.
        restore_path: checkpoint prefix (default: the experiment's newest checkpoint).
        network: ``NETWORK_CLASS`` override by module name.
        dataset: ``DATASET_CLASS`` override by module name.
        classes: a class source (default :func:`validation_classes`).
        require_checkpoint: without a checkpoint, raise (``True``) or keep the initial weights
            (``False``, for tools such as profiling that can work on an untrained network).
        configure: a function from the loaded config to the config the network is built from.
        mixed_precision: passed to :func:`lmnet.builders.build_network`.
        overrides: ``--set KEY=VALUE`` strings applied to the config (:mod:`lmnet.config_sources`).

    Returns:
        An :class:`OpenExperiment`.

    Raises:
        ExperimentError: bad experiment id, no config, no checkpoint (when required), or a checkpoint that
            is unreadable or does not fit the network.
        ConfigError: the config is invalid.
        DatasetError: the class source cannot read the dataset.
    """
    paths = environment.experiment(experiment_id)
    loaded = load_experiment_config(paths, config_file, network=network, dataset=dataset, overrides=overrides)
    checkpoint = (resolve_checkpoint if require_checkpoint else optional_checkpoint)(paths, restore_path)
    config = loaded if configure is None else configure(loaded)
    return open_config(config, environment.data_dir, checkpoint, classes=classes, mixed_precision=mixed_precision,
                       paths=paths, loaded_config=loaded)
