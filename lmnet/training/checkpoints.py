"""Checkpoints: rotating ``save.ckpt-<step>`` files, a best checkpoint kept apart, weight restore.

Model variables are stored by ``<layer name>/<variable name>`` (stable across processes, unlike
Keras' auto-generated names), so a checkpoint can be read back into a fresh model, in part
(pre-training) or whole. Writes are crash-safe: TensorFlow writes the data before the index and
replaces the ``checkpoint`` state file atomically, so a process killed at any moment leaves the
newest *listed* checkpoint complete.
"""
import hashlib
import os

import numpy as np
import tensorflow as tf

from lmnet.errors import ExperimentError

CHECKPOINT_NAME = "save.ckpt"


def weight_map(model):
    """Returns ``{"<layer>/<variable>": variable}`` for every variable of ``model``.

    Raises:
        ValueError: two variables would share a key (layers must have unique names).
    """
    weights = {}
    for layer in model.layers:
        for variable in layer.variables:
            key = f"{layer.name}/{variable.name}"
            if key in weights and weights[key] is not variable:
                raise ValueError(f"two variables are named {key}; give layers unique names")
            weights[key] = variable
    return weights


def weights_digest(model):
    """SHA-256 (hex) of every model variable's name, dtype, shape and bytes, in name order.

    Two models with bitwise-equal weights have the same digest; distributed workers print it when
    they finish so their agreement can be checked.
    """
    digest = hashlib.sha256()
    for key, variable in sorted(weight_map(model).items()):
        value = np.ascontiguousarray(np.asarray(variable.numpy()))
        digest.update(f"{key}|{value.dtype}|{value.shape}|".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def restore_weights(model, path, keys=None):
    """Restores the model's variables (or only ``keys``) from checkpoint prefix ``path``.

    Raises:
        ExperimentError: the checkpoint is missing, or lacks one of the requested variables.
    """
    if not tf.io.gfile.exists(path + ".index"):
        raise ExperimentError(f"checkpoint {path} not found (no {path}.index)")
    weights = weight_map(model)
    if keys is not None:
        weights = {key: weights[key] for key in keys}
    status = tf.train.Checkpoint(weights=weights).read(path)
    try:
        status.expect_partial().assert_existing_objects_matched()
    except AssertionError as error:
        raise ExperimentError(f"checkpoint {path} does not match the model: {error}".replace("\n", " ")) from None
    available = {name for name, _ in tf.train.list_variables(path)}
    missing = [key for key in weights if _checkpoint_key(key) not in available]
    if missing:
        raise ExperimentError(f"checkpoint {path} lacks variables: {', '.join(missing[:5])}")


def _checkpoint_key(weight_key):
    return "weights/" + weight_key.replace(".", "..").replace("/", ".S") + "/.ATTRIBUTES/VARIABLE_VALUE"


class CheckpointKeeper:
    """Saves and restores the training state: weights, optimizer (step, slots, schedule position)
    and the best score on the ``train_validation_saving`` subset.

    Args:
        model: the Keras model.
        optimizer: the Keras optimizer (built).
        directory: the experiment's ``checkpoints`` folder.
        keep: number of rotating checkpoints kept (``0`` or ``None``: all).
    """

    def __init__(self, model, optimizer, directory, keep):
        self.best_score = tf.Variable(-1.0, dtype=tf.float64, trainable=False, name="best_score")
        self.checkpoint = tf.train.Checkpoint(weights=weight_map(model), optimizer=optimizer,
                                              best_score=self.best_score)
        self.manager = tf.train.CheckpointManager(self.checkpoint, directory, max_to_keep=keep or None,
                                                  checkpoint_name=CHECKPOINT_NAME)
        self.best_manager = tf.train.CheckpointManager(self.checkpoint, os.path.join(directory, "best"),
                                                       max_to_keep=1, checkpoint_name=CHECKPOINT_NAME)

    @property
    def latest(self):
        """Path of the newest rotating checkpoint, or ``None``."""
        return self.manager.latest_checkpoint

    def restore_latest(self):
        """Restores the newest checkpoint if there is one; returns its path or ``None``."""
        path = self.latest
        if path is None:
            return None
        self.checkpoint.read(path).expect_partial().assert_existing_objects_matched()
        return path

    def save(self, step):
        """Writes ``save.ckpt-<step>`` and drops the oldest beyond ``keep``; returns its path."""
        return self.manager.save(checkpoint_number=step)

    def save_best(self, step, score):
        """Records ``score`` as the best and writes ``best/save.ckpt-<step>`` (replacing the old best)."""
        self.best_score.assign(score)
        return self.best_manager.save(checkpoint_number=step)


def latest_checkpoint(directory):
    """Path of the newest checkpoint listed in ``directory``, or ``None``."""
    return tf.train.latest_checkpoint(directory)
