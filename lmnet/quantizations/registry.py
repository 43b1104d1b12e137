"""The registry of quantizer functions by contract name."""
from lmnet.errors import ConfigError

_QUANTIZERS = {}


def register(name):
    """Decorator registering a quantizer function under ``name`` (sets ``fn.quantizer_name``)."""
    def decorate(fn):
        fn.quantizer_name = name
        _QUANTIZERS[name] = fn
        return fn
    return decorate


def get_quantizer(name):
    """Returns the quantizer registered as ``name``.

    Raises:
        ConfigError: no quantizer has that name.
    """
    import lmnet.quantizations  # noqa: F401  (registers the built-in quantizers)
    if name not in _QUANTIZERS:
        raise ConfigError(f"unknown quantizer '{name}'; known: {', '.join(sorted(_QUANTIZERS))}")
    return _QUANTIZERS[name]


def quantizer_name(fn):
    """Returns the registered name of quantizer ``fn``.

    Raises:
        ConfigError: ``fn`` is not a registered quantizer.
    """
    name = getattr(fn, "quantizer_name", None)
    if name is None or _QUANTIZERS.get(name) is not fn:
        raise ConfigError(f"{fn!r} is not a registered quantizer")
    return name


def registered_quantizers():
    """Returns ``{name: function}`` of every registered quantizer."""
    import lmnet.quantizations  # noqa: F401
    return dict(_QUANTIZERS)
