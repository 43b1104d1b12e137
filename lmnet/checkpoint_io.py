"""Reading checkpoints: variable keys, checks with messages naming the files, weight restore, which one to use.

Every tool that reads a checkpoint (evaluate, export, predict, profile, latency, the darknet converter,
pre-training) goes through this module; the training side (:mod:`lmnet.training.checkpoints`) adds the
rotating writer and the resume checks on top of it.

Model variables are stored by ``<layer name>/<variable name>`` (stable across processes, unlike
Keras' auto-generated names), so a checkpoint can be read back into a fresh model, in part
(pre-training) or whole.
"""
import glob
import hashlib
import os
import re

import numpy as np
import tensorflow as tf

from lmnet.errors import ExperimentError

CHECKPOINT_NAME = "save.ckpt"
#: Checkpoint key of the weight averages of a run with ``EMA_DECAY`` (:mod:`lmnet.training.weight_average`).
AVERAGED_WEIGHTS = "averaged_weights"


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

    A checkpoint of a run with ``EMA_DECAY`` holds each variable twice: the raw value the training
    continues from and the average (:mod:`lmnet.training.weight_average`); the average is what this
    restores, as every reader (evaluate, export, predict, pre-training) should use it.

    Raises:
        ExperimentError: the checkpoint is missing, not a readable checkpoint, or lacks one of the
            requested variables.
    """
    check_checkpoint(path)
    weights = weight_map(model)
    if keys is not None:
        weights = {key: weights[key] for key in keys}
    available = _checkpoint_names(path)
    averaged = {key: variable for key, variable in weights.items()
                if _checkpoint_key(key, AVERAGED_WEIGHTS) in available}
    parts = {"weights": {key: variable for key, variable in weights.items() if key not in averaged}}
    if averaged:
        parts[AVERAGED_WEIGHTS] = averaged
    status = read_checkpoint(tf.train.Checkpoint(**parts), path)
    try:
        status.expect_partial().assert_existing_objects_matched()
    except AssertionError as error:
        raise ExperimentError(f"checkpoint {path} does not match the model: {error}".replace("\n", " ")) from None
    missing = [key for key in weights if _checkpoint_key(key) not in available]
    if missing:
        raise ExperimentError(f"checkpoint {path} lacks variables: {', '.join(missing[:5])}")


def missing_from_checkpoint(path, keys):
    """The ``keys`` (``"<layer>/<variable>"``) that checkpoint prefix ``path`` holds neither raw nor averaged.

    Raises:
        ExperimentError: the checkpoint is missing or not a readable checkpoint.
    """
    check_checkpoint(path)
    available = _checkpoint_names(path)
    return [key for key in keys if _checkpoint_key(key) not in available
            and _checkpoint_key(key, AVERAGED_WEIGHTS) not in available]


def _checkpoint_names(path):
    """The names of the variables stored in checkpoint prefix ``path``."""
    return {name for name, _ in tf.train.list_variables(path)}


def _checkpoint_key(weight_key, root="weights"):
    return f"{root}/" + weight_key.replace(".", "..").replace("/", ".S") + "/.ATTRIBUTES/VARIABLE_VALUE"


def latest_checkpoint(directory):
    """Path of the newest checkpoint listed in ``directory``, or ``None``."""
    return tf.train.latest_checkpoint(directory)


def checkpoint_step(path):
    """The step number at the end of a ``save.ckpt-<step>`` path (0 when there is none)."""
    suffix = os.path.basename(path).rsplit("-", 1)[-1]
    return int(suffix) if suffix.isdigit() else 0


def resolve_checkpoint(paths, restore_path=None):
    """``restore_path`` or the experiment's newest checkpoint, checked to be a readable checkpoint.

    Raises:
        ExperimentError: there is no checkpoint, or ``restore_path`` (or the newest one) is missing, a
            folder, or not a readable TensorFlow checkpoint (see :func:`check_checkpoint`).
    """
    path = restore_path or latest_checkpoint(paths.checkpoints)
    if path is None:
        raise ExperimentError(f"no checkpoint in {paths.checkpoints}; train first or pass --restore_path")
    check_checkpoint(path)
    return path
