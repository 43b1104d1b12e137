"""The registry of quantizers (:class:`~lmnet.quantizations.base.Quantizer` objects) by contract name."""
from lmnet.common import lookup
from lmnet.errors import ConfigError
from lmnet.quantizations.base import ROLES, Quantizer

_QUANTIZERS = {}


def register(quantizer):
    """Registers ``quantizer`` under its :attr:`~Quantizer.name` and returns it.

    Raises:
        TypeError: not a :class:`Quantizer`, or without a name or a known role.
        ValueError: another quantizer already has that name.
    """
    if not isinstance(quantizer, Quantizer) or not quantizer.name or quantizer.role not in ROLES:
        raise TypeError(f"{quantizer!r}: a quantizer is a Quantizer with a name and a role in {ROLES}")
    if _QUANTIZERS.get(quantizer.name, quantizer) is not quantizer:
        raise ValueError(f"a quantizer named '{quantizer.name}' is already registered")
    _QUANTIZERS[quantizer.name] = quantizer
    return quantizer


def get_quantizer(name):
    """Returns the quantizer registered as ``name``.

    Raises:
        ConfigError: no quantizer has that name.
    """
    import lmnet.quantizations  # noqa: F401  (registers the built-in quantizers)
    return lookup(_QUANTIZERS, name, "quantizer")


def quantizer_name(quantizer):
    """Returns the registered name of ``quantizer``.

    Raises:
        ConfigError: ``quantizer`` is not a registered quantizer.
    """
    name = getattr(quantizer, "name", None)
    if not isinstance(quantizer, Quantizer) or _QUANTIZERS.get(name) is not quantizer:
        raise ConfigError(f"{quantizer!r} is not a registered quantizer")
    return name


def registered_quantizers():
    """Returns ``{name: quantizer}`` of every registered quantizer."""
    import lmnet.quantizations  # noqa: F401
    return dict(_QUANTIZERS)
