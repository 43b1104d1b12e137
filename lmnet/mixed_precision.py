"""bf16 mixed precision: the ``MIXED_PRECISION`` config key and the Keras dtype policy it selects.

With ``MIXED_PRECISION = "mixed_bfloat16"`` the network is built under Keras' ``mixed_bfloat16``
policy: layers compute in bfloat16 while every variable stays float32, so checkpoints are the same
as float32 runs. The policy is global in Keras, so it is set only while the network is built
(:func:`dtype_policy`); networks built later in the same process are float32 unless asked otherwise.
Quantizers, batch-norm statistics, the output layer, the loss and the metrics stay float32.
"""
import contextlib

import keras

from lmnet.errors import ConfigError

#: Name of the config key.
KEY = "MIXED_PRECISION"
#: The values ``MIXED_PRECISION`` may take besides ``None`` (float32).
POLICIES = ("mixed_bfloat16",)
#: The policy used when ``MIXED_PRECISION`` is ``None``.
FLOAT32 = "float32"


def check_policy(value):
    """Returns ``value`` when it is a valid ``MIXED_PRECISION`` setting.

    Args:
        value: ``None`` (float32) or one of :data:`POLICIES`.

    Raises:
        ConfigError: any other value; the message names the key and the allowed values.
    """
    if value is None or value in POLICIES:
        return value
    allowed = ", ".join(["None"] + [repr(name) for name in POLICIES])
    raise ConfigError(f"config key '{KEY}' expects one of {allowed}, got {value!r}")


def config_policy(config, enabled=True):
    """The Keras policy name a config asks for (``"float32"`` when unset or when not ``enabled``).

    Raises:
        ConfigError: ``MIXED_PRECISION`` holds an unknown value.
    """
    value = check_policy(config.get(KEY))
    return value if enabled and value is not None else FLOAT32


@contextlib.contextmanager
def dtype_policy(name):
    """Sets the global Keras dtype policy to ``name`` (``None``: float32) for the ``with`` block.

    The previous global policy is restored on exit, also when the block raises.
    """
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name or FLOAT32)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
