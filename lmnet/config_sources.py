"""Where a config's raw keys come from: its file, the configs it builds on (``BASE``), and ``--set`` overrides.

A config file may name the configs it builds on::

    BASE = "lmnet_quantize_cifar10.py"          # or a list, applied in order

(paths relative to the file). The bases are read first; a Python config module then runs with their
keys already defined, so it changes only what differs (``DATASET_CLASS = Cifar100``) and may edit what it
inherits (``NETWORK.LEARNING_RATE_KWARGS["values"] = [...]``). Keys of later bases, then of the file
itself, replace earlier ones; the ``NETWORK`` and ``DATASET`` sections are merged key by key (a file that
starts a fresh ``NETWORK = SmartDict()`` still keeps the inherited keys it does not set; set one to ``None``
to drop it). A key
computed from another one in a base (a learning-rate boundary from ``MAX_STEPS``, a ``Resize`` from
``IMAGE_SIZE``) keeps the base's value unless the file computes it again.

Overrides (``--set KEY=VALUE`` on every executor that reads a config) are applied last. ``KEY`` is a
top-level key or ``NETWORK.KEY`` / ``DATASET.KEY``; ``VALUE`` is read as YAML (``100``, ``0.5``,
``[160, 160]``, ``{momentum: 0.8}``, ``keras.optimizers.Adam``), so classes are import paths and
quantizers registered names, as in a YAML config, and resolve through the same allow-list.
"""
import ast
import copy
import importlib.util
import inspect
import os

import yaml

from lmnet.errors import ConfigError
from lmnet.yaml_io import read_yaml_mapping

#: The key naming the configs a config builds on.
BASE_KEY = "BASE"
#: The two sections whose keys are merged (not replaced) across bases and overridden as ``SECTION.KEY``.
SECTIONS = ("NETWORK", "DATASET")
#: How deep ``BASE`` chains may go.
MAX_BASE_DEPTH = 8


def read_raw(path, chain=()):
    """The UPPER_CASE keys of a config file with its bases applied (see the module).

    Raises:
        ConfigError: the file (or a base) is missing, unreadable or invalid, or the bases form a cycle.
    """
    if not os.path.isfile(path):
        raise ConfigError(f"config file {path} not found" + (f" (BASE of {chain[-1]})" if chain else ""))
    real = os.path.realpath(path)
    if real in chain:
        raise ConfigError(f"config BASE cycle: {' -> '.join(list(chain) + [real])}")
    if len(chain) >= MAX_BASE_DEPTH:
        raise ConfigError(f"{path}: BASE chain deeper than {MAX_BASE_DEPTH} configs")
    if path.endswith((".yaml", ".yml")):
        own = read_yaml_mapping(path, expected="a mapping of config keys")
        return _without_base(merge(_read_bases(path, own.get(BASE_KEY), chain + (real,)), own))
    if not path.endswith(".py"):
        raise ConfigError(f"{path}: a config is a .py module or a .yaml file")
    inherited = _read_bases(path, declared_base(path), chain + (real,))
    return _without_base(merge(inherited, _read_module(path, inherited)))


def merge(base, own):
    """``own``'s keys over ``base``'s; the ``NETWORK`` and ``DATASET`` sections merged key by key."""
    merged = dict(base)
    for key, value in own.items():
        if key in SECTIONS and isinstance(value, dict) and isinstance(merged.get(key), dict):
            value = type(value)({**merged[key], **value})
        merged[key] = value
    return merged


def _read_bases(path, declared, chain):
    """The merged keys of the bases ``declared`` by the config at ``path`` (a path, a list of them, or ``None``)."""
    if declared is None:
        return {}
    names = [declared] if isinstance(declared, str) else declared
    if not isinstance(names, (list, tuple)) or not all(isinstance(name, str) for name in names):
        raise ConfigError(f"{path}: {BASE_KEY} must be a config path or a list of them, got {declared!r}")
    merged = {}
    for name in names:
        merged = merge(merged, read_raw(os.path.join(os.path.dirname(path), name), chain))
    return merged


def declared_base(path):
    """The literal value of a top-level ``BASE = ...`` in a Python config, read without running it."""
    try:
        tree = ast.parse(open(path, encoding="utf-8").read(), filename=path)
    except (OSError, SyntaxError, ValueError) as error:
        raise ConfigError(f"{path}: cannot read config module ({type(error).__name__}: {error})") from None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == BASE_KEY for t in node.targets):
            try:
                return ast.literal_eval(node.value)
            except ValueError:
                raise ConfigError(f"{path}: {BASE_KEY} must be a literal path or list of paths") from None
    return None


def _read_module(path, inherited):
    """Executes a Python config module with ``inherited`` keys predefined; returns its UPPER_CASE attributes."""
    name = "lmnet_config_" + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    vars(module).update(copy.deepcopy(inherited))
    try:
        spec.loader.exec_module(module)
    except ConfigError:
        raise
    except Exception as error:  # the user's module failed: report where, not a traceback
        raise ConfigError(f"{path}: cannot execute config module ({type(error).__name__}: {error})") from None
    return {key: value for key, value in vars(module).items()
            if key.isupper() and not key.startswith("_") and not _is_import(key, value)}


def _is_import(key, value):
    """True for an imported class, function or module whose own name is ``key`` (``from x import VGG16``)."""
    return (inspect.isclass(value) or inspect.isfunction(value) or inspect.ismodule(value)) and \
        getattr(value, "__name__", "").rpartition(".")[2] == key


def _without_base(raw):
    return {key: value for key, value in raw.items() if key != BASE_KEY}


def parse_override(text):
    """``"NETWORK.KEY=VALUE"`` as ``(("NETWORK", "KEY"), value)``; the value read as YAML.

    ``KEY`` is a dotted path: a config key (``MAX_STEPS``), ``NETWORK.KEY`` / ``DATASET.KEY``, and after either
    the keys of a mapping inside it (``NETWORK.LEARNING_RATE_KWARGS.decay_steps``).

    Raises:
        ConfigError: not ``KEY=VALUE``, a config key that is not UPPER_CASE, an empty or non-identifier name in
            the path, or a value that is not valid YAML; the message quotes the option.
    """
    key, separator, value = str(text).partition("=")
    names = tuple(key.strip().split("."))
    config_keys = names[:2] if names[0] in SECTIONS else names[:1]
    config_keys_ok = all(name.isupper() for name in config_keys)
    if not separator or not config_keys_ok or not all(name.isidentifier() for name in names):
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE with KEY a config key (MAX_STEPS), "
                          f"{' / '.join(section + '.KEY' for section in SECTIONS)}, or a key inside a mapping "
                          f"value (NETWORK.LEARNING_RATE_KWARGS.decay_steps), e.g. --set MAX_STEPS=100")
    try:
        return names, yaml.safe_load(value)
    except yaml.YAMLError as error:
        raise ConfigError(f"--set {text!r}: the value is not valid YAML ({error})") from None


def apply_overrides(raw, overrides):
    """Returns ``raw`` with each ``KEY=VALUE`` of ``overrides`` set (see :func:`parse_override`); ``raw`` and the
    mappings inside it are copied, not changed.

    Raises:
        ConfigError: a path runs through a value that is not a mapping (a missing ``NETWORK`` or ``DATASET``
            section is started empty); the message names the option and the value found.
    """
    raw = dict(raw)
    for text in overrides or ():
        names, value = parse_override(text)
        container = raw
        for depth, name in enumerate(names[:-1]):
            inner = container.get(name)
            if inner is None and depth == 0 and name in SECTIONS:
                inner = {}
            if not isinstance(inner, dict):
                path = ".".join(names[:depth + 1])
                raise ConfigError(f"--set {text!r}: {path} is {inner!r} in the config, not a mapping, so it has "
                                  f"no key {names[depth + 1]!r}; set {path} as a whole instead")
            container[name] = container = type(inner)(inner)
        container[names[-1]] = value
    return raw
