"""Checkpoints: rotating ``save.ckpt-<step>`` files, a best checkpoint kept apart, weight restore.

Model variables are stored by ``<layer name>/<variable name>`` (stable across processes, unlike
Keras' auto-generated names), so a checkpoint can be read back into a fresh model, in part
(pre-training) or whole. Writes are crash-safe: TensorFlow writes the data before the index and
replaces the ``checkpoint`` state file atomically, so a process killed at any moment leaves the
newest *listed* checkpoint complete.
"""
import glob
import hashlib
import os
import re
import shutil

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


#: What TensorFlow's checkpoint reader raises for files that are missing, truncated or not a checkpoint:
#: ``OpError`` and its subclasses (``DataLossError``, ``NotFoundError``, …), and ``IndexError`` ("Read less
#: bytes than requested") for a truncated data file.
UNREADABLE_CHECKPOINT_ERRORS = (tf.errors.OpError, IndexError)


def _tf_reason(error):
    """TensorFlow's message on one short line, without its ``{{function_node …}}`` and ``[Op:…]`` parts."""
    message = getattr(error, "message", None) or str(error)
    message = re.sub(r"\{\{[^}]*\}\}|\[Op:[^\]]*\]", "", message)
    message = " ".join(message.split())
    return message if len(message) <= 200 else message[:200] + "…"


def _damage(path):
    """What is wrong with checkpoint ``path``: its ``.index`` when that cannot be read, else its data files."""
    try:
        tf.train.load_checkpoint(path)
    except UNREADABLE_CHECKPOINT_ERRORS:
        return f"{path}.index is truncated or damaged"
    data = sorted(glob.glob(glob.escape(path) + ".data-*"))
    if not data:
        return f"{path}.data-00000-of-00001 is missing"
    return f"{' or '.join(data)} is truncated or damaged"


def unreadable_checkpoint(path, error, way_out=""):
    """The :class:`ExperimentError` for checkpoint ``path`` that TensorFlow failed to read with ``error``."""
    return ExperimentError(f"checkpoint {path} is not a readable TensorFlow checkpoint: {_damage(path)} "
                           f"({_tf_reason(error)}){way_out}")


#: What a checkpoint path must be, for messages.
EXPECTED_CHECKPOINT = (f"expected a checkpoint prefix such as saved/<id>/checkpoints/{CHECKPOINT_NAME}-<step> "
                       "(the path of its .index file without '.index')")


def check_checkpoint(path):
    """Checks that ``path`` is the prefix of a checkpoint whose ``.index`` can be read and whose data exist.

    The tensors themselves are checked (by their checksums) when they are restored.

    Raises:
        ExperimentError: the message names ``path`` and what was expected there.
    """
    stem = re.sub(r"\.(index|data-\d+-of-\d+)$", "", path)
    if stem != path and os.path.isfile(stem + ".index"):
        raise ExperimentError(f"checkpoint {path} not found: pass the checkpoint prefix {stem}, without the suffix")
    if not os.path.isfile(path + ".index"):
        what = "is a folder" if os.path.isdir(path) else f"not found (no {path}.index)"
        raise ExperimentError(f"checkpoint {path} {what}; {EXPECTED_CHECKPOINT}")
    if not glob.glob(glob.escape(path) + ".data-*"):
        raise ExperimentError(f"checkpoint {path} has no data file (no {path}.data-00000-of-00001)")
    try:
        tf.train.load_checkpoint(path)
    except UNREADABLE_CHECKPOINT_ERRORS as error:
        raise unreadable_checkpoint(path, error) from None


def read_checkpoint(checkpoint, path, way_out=""):
    """``checkpoint.read(path)``, with unreadable files turned into an :class:`ExperimentError` naming them.

    Args:
        checkpoint: a ``tf.train.Checkpoint``.
        path: the checkpoint prefix.
        way_out: appended to the message (e.g. ``"; train with --recreate to start over"``).

    Returns:
        The load status of ``checkpoint.read``.
    """
    try:
        return checkpoint.read(path)
    except UNREADABLE_CHECKPOINT_ERRORS as error:
        raise unreadable_checkpoint(path, error, way_out) from None


def restore_weights(model, path, keys=None):
    """Restores the model's variables (or only ``keys``) from checkpoint prefix ``path``.

    Raises:
        ExperimentError: the checkpoint is missing, not a readable checkpoint, or lacks one of the
            requested variables.
    """
    check_checkpoint(path)
    weights = weight_map(model)
    if keys is not None:
        weights = {key: weights[key] for key in keys}
    status = read_checkpoint(tf.train.Checkpoint(weights=weights), path)
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
        """Restores the newest checkpoint if there is one; returns its path or ``None``.

        The folder is checked first (:func:`check_checkpoint_folder`): a state file that cannot be read
        or names missing files stops the run instead of silently starting again from step 0.
        """
        directory = self.manager.directory
        check_checkpoint_folder(directory)
        path = self.latest
        if path is None:
            return None
        status = read_checkpoint(self.checkpoint, path, _resume_way_out(directory, path))
        status.expect_partial().assert_existing_objects_matched()
        return path

    def save(self, step):
        """Writes ``save.ckpt-<step>`` and drops the oldest beyond ``keep``; returns its path."""
        return self.manager.save(checkpoint_number=step)

    def save_best(self, step, score):
        """Records ``score`` as the best and writes ``best/save.ckpt-<step>`` (replacing the old best)."""
        self.best_score.assign(score)
        return self.best_manager.save(checkpoint_number=step)


def _steps_on_disk(directory):
    """Steps of the complete-looking ``save.ckpt-<step>`` checkpoints (an ``.index`` file) in ``directory``."""
    pattern = re.compile(re.escape(CHECKPOINT_NAME) + r"-(\d+)\.index$")
    names = (pattern.match(os.path.basename(path)) for path in glob.glob(os.path.join(directory, "*.index")))
    return sorted(int(match.group(1)) for match in names if match)


def remove_partial_writes(directory, log=print):
    """Deletes the ``save.ckpt-<step>_temp*`` folders a process killed while writing a checkpoint leaves behind.

    TensorFlow writes each checkpoint into such a folder before moving its files in place, so a
    leftover holds no complete checkpoint. Returns the removed paths (each one is logged).
    """
    removed = []
    for path in sorted(glob.glob(os.path.join(directory, f"{CHECKPOINT_NAME}-*_temp*"))):
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
            removed.append(path)
            log(f"removed {path}: an unfinished checkpoint write (the process was stopped during it)")
    return removed


def _resume_way_out(directory, broken):
    """How to resume when the newest checkpoint ``broken`` cannot be read: an older one, or ``--recreate``."""
    older = [f"{CHECKPOINT_NAME}-{step}" for step in _steps_on_disk(directory)
             if os.path.join(directory, f"{CHECKPOINT_NAME}-{step}") != broken]
    state_file = os.path.join(directory, "checkpoint")
    if not older:
        return "; refusing to resume from it: train with --recreate to start over"
    return (f"; refusing to resume from it: write 'model_checkpoint_path: \"{older[-1]}\"' into {state_file} to "
            f"resume from an older checkpoint ({', '.join(older)}), or train with --recreate to start over")


def check_checkpoint_folder(directory, log=print):
    """Verifies a checkpoint folder before training resumes from it, and cleans unfinished writes.

    Raises:
        ExperimentError: the ``checkpoint`` state file cannot be read, names a checkpoint whose files
            are missing, or is missing while checkpoints are there; the message names the file and
            the way out.
    """
    if not os.path.isdir(directory):
        return
    remove_partial_writes(directory, log)
    state_file = os.path.join(directory, "checkpoint")
    steps = _steps_on_disk(directory)
    newest = f"{CHECKPOINT_NAME}-{steps[-1]}" if steps else None
    fix = (f"write 'model_checkpoint_path: \"{newest}\"' into it to resume from the newest checkpoint on disk, or "
           f"train with --recreate to start over") if newest else "train with --recreate to start over"
    if not os.path.exists(state_file):
        if steps:
            raise ExperimentError(f"{state_file} is missing but {directory} holds checkpoints up to {newest}; {fix}")
        return
    state = tf.train.get_checkpoint_state(directory)
    if state is None or not state.model_checkpoint_path:
        raise ExperimentError(f"{state_file} cannot be read as a checkpoint state; refusing to start again from "
                              f"step 0 over the existing checkpoints: {fix}")
    listed = state.model_checkpoint_path
    listed = listed if os.path.isabs(listed) else os.path.join(directory, listed)
    if not os.path.exists(listed + ".index"):
        raise ExperimentError(f"{state_file} names {os.path.basename(listed)}, whose files are missing; {fix}")


def latest_checkpoint(directory):
    """Path of the newest checkpoint listed in ``directory``, or ``None``."""
    return tf.train.latest_checkpoint(directory)
