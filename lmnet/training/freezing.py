"""Freezing layers by name (``FROZEN_LAYERS``), as Keras fine-tuning does.

``FROZEN_LAYERS`` holds glob patterns over layer names (``"block_1"``, ``"block_[1-4]*"``). Every
matching layer gets ``trainable = False`` before the optimizer is built, so:

* its weights are not in ``model.trainable_variables``: the optimizer neither updates them nor keeps
  slots for them, and weight decay adds only a constant for them;
* a frozen batch normalization runs in inference mode (its moving statistics, not the batch's, and it
  does not update them), the Keras convention for fine-tuning.

The key is saved in the experiment's config like every other key; a resumed run must freeze the same
layers (changing it is a config change, refused without ``--recreate``).
"""
import fnmatch

from lmnet.errors import ConfigError


def freeze_layers(model, patterns):
    """Sets ``trainable = False`` on every layer of ``model`` whose name matches one of ``patterns``.

    Args:
        model: a Keras model.
        patterns: glob patterns over layer names; empty or ``None`` freezes nothing.

    Returns:
        The names of the frozen layers, in model order.

    Raises:
        ConfigError: a pattern matches no layer (naming the pattern and a few layer names).
    """
    names = [layer.name for layer in model.layers]
    for pattern in patterns or []:
        if not fnmatch.filter(names, pattern):
            raise ConfigError(f"FROZEN_LAYERS: '{pattern}' matches no layer of {model.name} (layers: "
                              f"{', '.join(names[:8])}{', …' if len(names) > 8 else ''})")
    frozen = []
    for layer in model.layers:
        if any(fnmatch.fnmatch(layer.name, pattern) for pattern in patterns or []):
            layer.trainable = False
            frozen.append(layer.name)
    return frozen
