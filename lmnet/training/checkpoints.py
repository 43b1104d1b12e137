"""Training checkpoints: rotating ``save.ckpt-<step>`` files, a best checkpoint kept apart, resume checks.

Reading checkpoints (variable keys, checks, weight restore) is :mod:`lmnet.checkpoint_io`. Writes are
crash-safe: TensorFlow writes the data before the index and replaces the ``checkpoint`` state file
atomically, so a process killed at any moment leaves the newest *listed* checkpoint complete.
"""
import glob
import os
import re
import shutil

import tensorflow as tf

from lmnet.checkpoint_io import AVERAGED_WEIGHTS, CHECKPOINT_NAME, read_checkpoint, weight_map
from lmnet.errors import ExperimentError


class CheckpointKeeper:
    """Saves and restores the training state: weights, optimizer (step, slots, schedule position)
    and the best score on the ``train_validation_saving`` subset.

    Args:
        model: the Keras model.
        optimizer: the Keras optimizer (built).
        directory: the experiment's ``checkpoints`` folder.
        keep: number of rotating checkpoints kept (``0`` or ``None``: all).
        weight_average: the run's :class:`lmnet.training.weight_average.WeightAverage` (saved under
            ``averaged_weights``), or ``None``.
    """

    def __init__(self, model, optimizer, directory, keep, weight_average=None):
        self.best_score = tf.Variable(-1.0, dtype=tf.float64, trainable=False, name="best_score")
        state = {} if weight_average is None else {AVERAGED_WEIGHTS: weight_average.averages}
        self.checkpoint = tf.train.Checkpoint(weights=weight_map(model), optimizer=optimizer,
                                              best_score=self.best_score, **state)
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
