"""Starting training from pre-trained weights (``IS_PRETRAIN``)."""
import fnmatch
import os

from lmnet.checkpoint_io import restore_weights, weight_map
from lmnet.errors import ConfigError, ExperimentError


def restore_pretrained(model, config):
    """Restores ``PRETRAIN_VARS`` of ``model`` from ``PRETRAIN_DIR/PRETRAIN_FILE``.

    ``PRETRAIN_VARS`` holds glob patterns over ``<layer>/<variable>`` names (``"conv1/*"``); empty
    or ``None`` means every variable.

    Returns:
        The list of restored variable names.

    Raises:
        ConfigError: a pattern matches no variable, or the keys are missing.
        ExperimentError: the checkpoint is missing or lacks a requested variable.
    """
    if not config.PRETRAIN_DIR or not config.PRETRAIN_FILE:
        raise ConfigError("IS_PRETRAIN needs PRETRAIN_DIR and PRETRAIN_FILE")
    path = os.path.join(config.PRETRAIN_DIR, config.PRETRAIN_FILE)
    names = list(weight_map(model))
    patterns = config.PRETRAIN_VARS or ["*"]
    selected = []
    for pattern in patterns:
        matches = fnmatch.filter(names, pattern)
        if not matches:
            raise ConfigError(f"PRETRAIN_VARS: '{pattern}' matches no variable of the model")
        selected.extend(m for m in matches if m not in selected)
    try:
        restore_weights(model, path, keys=selected)
    except ExperimentError as error:
        hint = "train the experiment that writes it first, or set IS_PRETRAIN = False"
        raise ExperimentError(f"IS_PRETRAIN: {error}; PRETRAIN_DIR/PRETRAIN_FILE must name a checkpoint of this "
                              f"network: {hint}") from None
    return selected
