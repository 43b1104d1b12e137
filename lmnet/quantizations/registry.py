"""The registry of quantizer functions by contract name, and the check of their keyword arguments."""
import inspect

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


def quantizer_keywords(fn):
    """The keyword arguments quantizer ``fn`` takes (every parameter after its input), or ``None`` for any."""
    parameters = list(inspect.signature(fn).parameters.values())[1:]
    if any(parameter.kind is parameter.VAR_KEYWORD for parameter in parameters):
        return None
    return [parameter.name for parameter in parameters
            if parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)]


def check_quantizer_kwargs(fn, kwargs, key):
    """Checks ``kwargs`` against the signature of quantizer ``fn``, before any network is built.

    Args:
        fn: a registered quantizer.
        kwargs: the keyword arguments the config gives it.
        key: the config key holding ``kwargs``, for the message (``"NETWORK.ACTIVATION_QUANTIZER_KWARGS"``).

    Raises:
        ConfigError: a keyword ``fn`` does not take, or one it needs is missing; the message names ``key``,
            the quantizer and the keywords it accepts.
    """
    accepted = quantizer_keywords(fn)
    if accepted is None:
        return
    name = getattr(fn, "quantizer_name", fn.__name__)
    takes = f"it accepts {', '.join(accepted)}" if accepted else "it takes no keyword arguments ({})"
    unknown = [keyword for keyword in kwargs if keyword not in accepted]
    if unknown:
        raise ConfigError(f"config key '{key}' has {', '.join(map(repr, unknown))}, which quantizer {name} does not "
                          f"take; {takes}")
    parameters = inspect.signature(fn).parameters
    missing = [keyword for keyword in accepted if parameters[keyword].default is inspect.Parameter.empty
               and keyword not in kwargs]
    if missing:
        raise ConfigError(f"config key '{key}' lacks {', '.join(map(repr, missing))}, which quantizer {name} needs; "
                          f"{takes}")
