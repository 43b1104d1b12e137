"""Starting training from pre-trained weights (``IS_PRETRAIN``)."""
import collections
import fnmatch
import os

from lmnet.checkpoint_io import missing_from_checkpoint, restore_weights, weight_map
from lmnet.errors import ConfigError, ExperimentError

#: What :func:`restore_pretrained` did: the restored variable names, and the learned quantizer parameters the
#: checkpoint lacks, left at their initial values (a float network's checkpoint has no PACT / LSQ ranges).
Restored = collections.namedtuple("Restored", ["restored", "initialised"])


def learned_quantizer_parameters(model):
    """``"<layer>/<variable>"`` names of the learned activation-quantizer parameters (PACT, LSQ) of ``model``."""
    return [f"{layer.name}/{layer.learned_value.name}" for layer in model.layers
            if getattr(layer, "learned_value", None) is not None]


def restore_pretrained(model, config):
    """Restores ``PRETRAIN_VARS`` of ``model`` from ``PRETRAIN_DIR/PRETRAIN_FILE``.

    ``PRETRAIN_VARS`` holds glob patterns over ``<layer>/<variable>`` names (``"conv1/*"``); empty
    or ``None`` means every variable. Learned quantizer parameters (the ``max_value`` of ``pact`` and
    ``lsq`` activations) that the checkpoint lacks keep their initial value, the config's ``max_value``:
    that is how a quantized network with learned ranges starts from a float network's weights.

    Returns:
        A :data:`Restored`.

    Raises:
        ConfigError: a pattern matches no variable, or the keys are missing.
        ExperimentError: the checkpoint is missing or lacks a requested variable.
    """
    if not config.PRETRAIN_DIR or not config.PRETRAIN_FILE:
        raise ConfigError("IS_PRETRAIN needs PRETRAIN_DIR and PRETRAIN_FILE")
    path = os.path.join(config.PRETRAIN_DIR, config.PRETRAIN_FILE)
    selected = _selected_variables(list(weight_map(model)), config.PRETRAIN_VARS or ["*"])
    hint = "train the experiment that writes it first, or set IS_PRETRAIN = False"
    try:
        learned = [key for key in learned_quantizer_parameters(model) if key in selected]
        initialised = missing_from_checkpoint(path, learned) if learned else []
        selected = [key for key in selected if key not in initialised]
        restore_weights(model, path, keys=selected)
    except ExperimentError as error:
        raise ExperimentError(f"IS_PRETRAIN: {error}; PRETRAIN_DIR/PRETRAIN_FILE must name a checkpoint of this "
                              f"network: {hint}") from None
    return Restored(selected, initialised)


def _selected_variables(names, patterns):
    """The ``names`` matched by any of the glob ``patterns``, in first-match order.

    Raises:
        ConfigError: a pattern matches no name.
    """
    selected = []
    for pattern in patterns:
        matches = fnmatch.filter(names, pattern)
        if not matches:
            raise ConfigError(f"PRETRAIN_VARS: '{pattern}' matches no variable of the model")
        selected.extend(m for m in matches if m not in selected)
    return selected
