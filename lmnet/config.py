"""Loading, checking, overriding and saving configs.

A config is a Python module of UPPER_CASE keys (or the YAML file written from one). :func:`load`
returns a validated :class:`Config`: every key known (unknown keys are an error naming the
closest valid one), required keys present, values of the right kind, defaults filled in.

In YAML, classes are written as their import path, quantizers by their registered name and
processors as class name + parameters, so ``load(save_yaml(config))`` equals ``config``.
"""
import difflib
import importlib
import inspect
import math
import os

import yaml

from lmnet import config_schema as schema, config_sources, outputs
from lmnet.common import Tasks
from lmnet.data_processor import Processor, processor_from_dict, processor_to_data
from lmnet.errors import ConfigError


class SmartDict(dict):
    """A dict whose keys are also attributes (``config.NETWORK.OPTIMIZER_CLASS``)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name, value):
        self[name] = value

    def __delattr__(self, name):
        del self[name]


Config = SmartDict


def load(path, network=None, dataset=None, overrides=()):
    """Loads a config module (``.py``) or YAML file, with its bases and overrides, and validates it.

    Args:
        path: the config file (its ``BASE`` configs are read first, :mod:`lmnet.config_sources`).
        network: optional override of ``NETWORK_CLASS`` by module name under ``lmnet.networks``
            (e.g. ``"classification.lmnet_v1_quantize"``).
        dataset: optional override of ``DATASET_CLASS`` by module name under ``lmnet.datasets``.
        overrides: ``KEY=VALUE`` strings (``--set``), applied last.

    Returns:
        The validated :class:`Config`.

    Raises:
        ConfigError: the file is missing or invalid; the message names the key.
    """
    raw = config_sources.read_raw(path)
    if network:
        raw["NETWORK_CLASS"] = resolve_class("lmnet.networks", network, "lmnet.networks.base", "BaseNetwork")
        raw.pop("TASK", None)
    if dataset:
        raw["DATASET_CLASS"] = resolve_class("lmnet.datasets", dataset, "lmnet.datasets.base", "Dataset")
        raw.pop("CLASSES", None)
    return validate(config_sources.apply_overrides(raw, overrides))


def resolve_class(package, module_name, base_module, base_name):
    """Returns the one subclass of ``base_module.base_name`` defined in ``package.module_name``.

    Raises:
        ConfigError: no such module, or it does not define exactly one such class.
    """
    base = getattr(importlib.import_module(base_module), base_name)
    full_name = f"{package}.{module_name}"
    try:
        module = importlib.import_module(full_name)
    except ModuleNotFoundError:
        raise ConfigError(f"no module '{module_name}' in {package}") from None
    found = [obj for obj in vars(module).values()
             if inspect.isclass(obj) and issubclass(obj, base) and obj.__module__ == full_name]
    if len(found) != 1:
        raise ConfigError(f"module {full_name} must define exactly one {base_name} subclass, found {len(found)}")
    return found[0]


def validate(raw):
    """Checks raw top-level keys and returns a complete :class:`Config` with defaults filled in.

    Raises:
        ConfigError: unknown key, missing required key, wrong kind of value or inconsistent keys.
    """
    config = _check_section(raw, schema.TOP_LEVEL, "")
    config.NETWORK = _check_section(raw.get("NETWORK") or {}, schema.NETWORK, "NETWORK.")
    config.DATASET = _check_section(raw.get("DATASET") or {}, schema.DATASET, "DATASET.")
    _check_quantizer_kwargs(config.NETWORK)
    _fill_shared_keys(config)
    _fill_derived_keys(config)
    config.NETWORK_CLASS.check_image_size(config.IMAGE_SIZE)
    _fill_input_sizes(config)
    _check_post_processor(config)
    return config


#: The processor keys, and whether a size they set must equal ``IMAGE_SIZE`` (see
#: :meth:`lmnet.data_processor.Processor.follow_image_size`).
_PROCESSOR_KEYS = ((("PRE_PROCESSOR",), True), (("POST_PROCESSOR",), True), (("DATASET", "PRE_PROCESSOR"), True),
                   (("DATASET", "AUGMENTOR"), False))


def _fill_input_sizes(config):
    """``IMAGE_SIZE`` is written once: every processor whose input size is unset takes it, and so does an
    embedded set that draws its samples, unless ``DATASET.OPTIONS`` names its ``image_size``.

    Raises:
        ConfigError: a pre- or post-processor sets another size than ``IMAGE_SIZE``.
    """
    for path, strict in _PROCESSOR_KEYS:
        section = config if len(path) == 1 else config[path[0]]
        processor = section[path[-1]]
        if processor is not None:
            section[path[-1]] = processor.follow_image_size(config.IMAGE_SIZE, ".".join(path), strict)
    options = config.DATASET.OPTIONS or {}
    if hasattr(config.DATASET_CLASS, "default_image_size") and "image_size" not in options:
        # An embedded set that draws its samples (lmnet.datasets.base.GeneratedSamples) draws them at IMAGE_SIZE.
        config.DATASET.OPTIONS = dict(options, image_size=list(config.IMAGE_SIZE))


def _check_post_processor(config):
    """One post-processing per experiment: ``POST_PROCESSOR`` is the network's own, filled in or checked.

    Training-time metrics decode with the network's post-processing (built from ``NETWORK.ANCHORS``, the
    score and NMS thresholds, ``CLASSES`` and ``IMAGE_SIZE``); predict, export and the runtimes use
    ``POST_PROCESSOR``. Left unset, ``POST_PROCESSOR`` becomes the network's; a config that writes it
    must write the same. Skipped while ``CLASSES`` is unknown (read from the data later, when
    :func:`lmnet.builders.build_post_processor` takes the network's).

    Raises:
        ConfigError: naming the first processor parameter that differs.
    """
    if not config.CLASSES or not hasattr(config.NETWORK_CLASS, "post_processor"):
        return
    try:
        network = config.NETWORK_CLASS(classes=list(config.CLASSES), **network_kwargs(config))
    except TypeError:
        return  # a key the network rejects is reported, with its name, when the network is built
    if config.POST_PROCESSOR is None:
        config.POST_PROCESSOR = network.post_processor()
        return
    expected = processor_to_data(network.post_processor())
    given = processor_to_data(config.POST_PROCESSOR)
    if given != expected:
        difference = _first_difference(given, expected)
        raise ConfigError(f"config key 'POST_PROCESSOR' differs from the post-processing "
                          f"{config.NETWORK_CLASS.__name__} builds from its NETWORK settings ({difference}); training "
                          f"metrics would decode otherwise than predict and export. Make them equal, or leave "
                          f"POST_PROCESSOR unset to use the network's")


def _first_difference(given, expected, where="POST_PROCESSOR"):
    """Where two serialized processors first differ, and both values."""
    if isinstance(given, dict) and isinstance(expected, dict):
        for key in list(expected) + [key for key in given if key not in expected]:
            if given.get(key) != expected.get(key):
                return _first_difference(given.get(key), expected.get(key), f"{where}.{key}")
    if isinstance(given, list) and isinstance(expected, list) and len(given) == len(expected):
        for index, (first, second) in enumerate(zip(given, expected)):
            if first != second:
                return _first_difference(first, second, f"{where}[{index}]")
    return f"{where} is {given!r}, the network's is {expected!r}"


def _check_section(raw, fields, prefix):
    """Validates one mapping against ``fields``; returns a SmartDict with defaults."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a mapping of keys, got {type(raw).__name__}")
    for key in raw:
        if key not in fields:
            raise ConfigError(_unknown_key_message(prefix, key, fields))
    section = SmartDict()
    for key, field in fields.items():
        if key in ("NETWORK", "DATASET"):
            continue
        if key not in raw:
            if field.required:
                raise ConfigError(f"missing required config key '{prefix}{key}'")
            section[key] = field.default
            continue
        section[key] = _check_value(prefix + key, raw[key], field)
    return section


def _unknown_key_message(prefix, key, fields):
    """'unknown key' with the closest valid one, when there is one."""
    close = difflib.get_close_matches(str(key), list(fields), n=1, cutoff=0.5)
    hint = f"; did you mean '{prefix}{close[0]}'?" if close else f"; valid keys: {', '.join(sorted(fields))}"
    return f"unknown config key '{prefix}{key}'{hint}"


def _check_value(key, value, field):
    """Checks (and normalizes) one value; raises ConfigError naming ``key``."""
    if value is None:
        if field.optional:
            return None
        raise ConfigError(f"config key '{key}' must not be None")
    checker = _CHECKERS[field.kind]
    try:
        return checker(value)
    except _WrongKind as wrong:
        raise ConfigError(f"config key '{key}' expects {wrong.expected}, got {value!r} "
                          f"({type(value).__name__})") from None


class _WrongKind(Exception):
    def __init__(self, expected):
        super().__init__(expected)
        self.expected = expected


def _check_int(value):
    if isinstance(value, bool) or not isinstance(value, int):
        raise _WrongKind("an integer")
    return value


def _check_positive_int(value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _WrongKind("an integer of at least 1")
    return value


def _check_non_negative_int(value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _WrongKind("an integer of at least 0")
    return value


def _check_float(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _WrongKind("a finite number")
    return value


def _float_range_checker(low, high=None, low_open=False):
    """Checks finite numbers in ``[low, high]`` (``(low, high]`` with ``low_open``; no top when ``high`` is None)."""
    expected = f"a number {'above' if low_open else 'of at least'} {low}" + (f" and at most {high}" if high else "")

    def check(value):
        value = _check_float(value)
        if value < low or (low_open and value == low) or (high is not None and value > high):
            raise _WrongKind(expected)
        return value
    return check


def _check_bool(value):
    if not isinstance(value, bool):
        raise _WrongKind("True or False")
    return value


def _check_str(value):
    if not isinstance(value, str):
        raise _WrongKind("a string")
    return value


def _check_size(value):
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or any(isinstance(v, bool) or not isinstance(v, int) or v <= 0 for v in value)):
        raise _WrongKind("[height, width] of two positive integers")
    return [int(v) for v in value]


def _check_str_list(value):
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise _WrongKind("a list of strings")
    return list(value)


def _check_list(value):
    if not isinstance(value, (list, tuple)):
        raise _WrongKind("a list")
    return _plain(value)


def _check_dict(value):
    if not isinstance(value, dict):
        raise _WrongKind("a mapping")
    return _plain(value)


def _plain(value):
    """Tuples to lists, recursively, so Python and YAML configs compare equal."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _class_value(value):
    """The class a config value names; an import path outside :data:`ALLOWED_CLASS_MODULES` is not imported."""
    if isinstance(value, str):
        if not allowed_import_path(value):
            raise _WrongKind(f"a class from {ALLOWED_CLASS_SOURCES}")
        try:
            value = import_object(value)
        except ConfigError as error:
            raise _WrongKind(f"an importable class ({error})") from None
    if not inspect.isclass(value):
        raise _WrongKind("a class (or its import path)")
    return value


def _allowed_class(value):
    """``value`` if the class lives in :data:`ALLOWED_CLASS_MODULES` (a config module may pass class objects)."""
    if not allowed_import_path(class_path(value)):
        raise _WrongKind(f"a class from {ALLOWED_CLASS_SOURCES}, not {class_path(value)}")
    return value


def _check_class(value):
    return _allowed_class(_class_value(value))


def _subclass_checker(base_module, base_name):
    def check(value):
        base = getattr(importlib.import_module(base_module), base_name)
        value = _class_value(value)
        if not issubclass(value, base):
            raise _WrongKind(f"a subclass of {base_name}")
        return _allowed_class(value)
    return check


def _check_quantizer(value):
    from lmnet.quantizations import Quantizer, get_quantizer, quantizer_name
    if isinstance(value, str):
        return get_quantizer(value)
    if not isinstance(value, Quantizer):
        raise _WrongKind("a registered quantizer or its name")
    quantizer_name(value)
    return value


def _check_quantizer_kwargs(network):
    """Checks ``ACTIVATION_QUANTIZER_KWARGS`` and ``WEIGHT_QUANTIZER_KWARGS`` against their quantizer's parameters."""
    for key in ("ACTIVATION_QUANTIZER", "WEIGHT_QUANTIZER"):
        if network[key] is not None:
            network[key].arguments(network[key + "_KWARGS"] or {}, f"NETWORK.{key}_KWARGS")


def _check_processor(value):
    if isinstance(value, Processor):
        return value
    if isinstance(value, (dict, list)):
        return processor_from_dict(value)
    raise _WrongKind("a processor (or its serialized form)")


def _check_task(value):
    if value not in Tasks.ALL:
        raise _WrongKind(f"one of {', '.join(Tasks.ALL)}")
    return value


def _check_mixed_precision(value):
    from lmnet.mixed_precision import check_policy  # imports Keras only when the key is set
    return check_policy(value)


def _check_distribution_strategy(value):
    if value not in schema.STRATEGIES:
        raise _WrongKind(f"one of {', '.join(repr(name) for name in schema.STRATEGIES)}")
    return value


_CHECKERS = {
    "int": _check_int, "positive_int": _check_positive_int, "non_negative_int": _check_non_negative_int,
    "float": _check_float, "positive_float": _float_range_checker(0, low_open=True),
    "non_negative_float": _float_range_checker(0), "unit_float": _float_range_checker(0, 1), "bool": _check_bool,
    "str": _check_str, "size": _check_size,
    "str_list": _check_str_list, "list": _check_list, "dict": _check_dict, "class": _check_class,
    "network_class": _subclass_checker("lmnet.networks.base", "BaseNetwork"),
    "dataset_class": _subclass_checker("lmnet.datasets.base", "Dataset"),
    "quantizer": _check_quantizer, "processor": _check_processor, "task": _check_task,
    "mixed_precision": _check_mixed_precision, "distribution_strategy": _check_distribution_strategy,
    "any": lambda v: v,
}


#: The modules whose classes a config may name (lmnet's own and any module below them; Keras' optimizers and
#: learning-rate schedules). A config is data: a class name from anywhere else is refused before any import.
ALLOWED_CLASS_MODULES = ("lmnet", "keras.optimizers", "keras.optimizers.schedules")
ALLOWED_CLASS_SOURCES = "lmnet, keras.optimizers or keras.optimizers.schedules"


def allowed_import_path(path):
    """Whether ``"module.Name"`` lies in :data:`ALLOWED_CLASS_MODULES` (``lmnet`` and its sub-modules; exactly
    ``keras.optimizers`` or ``keras.optimizers.schedules``)."""
    module = path.rpartition(".")[0]
    return module in ALLOWED_CLASS_MODULES or module.startswith("lmnet.")


def import_object(path):
    """Imports ``"package.module.Name"`` and returns ``Name``, for an allowed path only.

    Raises:
        ConfigError: the path is outside :data:`ALLOWED_CLASS_MODULES` (nothing is imported then), or the
            module or the name does not exist.
    """
    if not isinstance(path, str) or not allowed_import_path(path):
        raise ConfigError(f"refusing to import '{path}': a config may only name classes from {ALLOWED_CLASS_SOURCES}")
    module_name, _, name = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError, ValueError):
        raise ConfigError(f"cannot import '{path}'") from None


def _fill_shared_keys(config):
    """Copies IMAGE_SIZE, BATCH_SIZE, DATA_FORMAT into NETWORK/DATASET, checking consistency."""
    for section_name in ("NETWORK", "DATASET"):
        section = config[section_name]
        for key in schema.SHARED_KEYS:
            if section.get(key) is None:
                section[key] = config[key]
            elif section[key] != config[key] and section_name == "NETWORK":
                raise ConfigError(f"config key '{section_name}.{key}' ({section[key]}) differs from '{key}' "
                                  f"({config[key]})")
    if config.DATASET.PRE_PROCESSOR is None:
        config.DATASET.PRE_PROCESSOR = config.PRE_PROCESSOR
    if config.MAX_STEPS is None and config.MAX_EPOCHS is None:
        raise ConfigError("missing required config key 'MAX_STEPS' (or 'MAX_EPOCHS')")


def _fill_derived_keys(config):
    """TASK from the network class, CLASSES from the dataset class, when not given."""
    network_task = config.NETWORK_CLASS.task
    if config.TASK is None:
        config.TASK = network_task
    elif network_task is not None and config.TASK != network_task:
        raise ConfigError(f"config key 'TASK' is {config.TASK} but {config.NETWORK_CLASS.__name__} "
                          f"does {network_task}")
    if config.CLASSES is None and config.DATASET_CLASS.classes:
        config.CLASSES = list(config.DATASET_CLASS.classes)


def network_kwargs(config):
    """The NETWORK section as constructor arguments (lower-case names, unset keys left out)."""
    return {key.lower(): value for key, value in config.NETWORK.items() if value is not None}


# ---------------------------------------------------------------- YAML

def to_yaml_data(config):
    """Returns the config as plain YAML-safe data (classes as import paths, processors as dicts)."""
    data = {}
    for key, field in schema.TOP_LEVEL.items():
        if key in ("NETWORK", "DATASET"):
            continue
        data[key] = _to_yaml_value(config[key], field)
    data["NETWORK"] = {k: _to_yaml_value(config.NETWORK[k], f) for k, f in schema.NETWORK.items()
                       if config.NETWORK[k] is not None}
    data["DATASET"] = {k: _to_yaml_value(config.DATASET[k], f) for k, f in schema.DATASET.items()}
    return data


def _to_yaml_value(value, field):
    if value is None:
        return None
    if field.kind in ("class", "network_class", "dataset_class"):
        return class_path(value)
    if field.kind == "quantizer":
        from lmnet.quantizations import quantizer_name
        return quantizer_name(value)
    if field.kind == "processor":
        return processor_to_data(value)
    return _plain(value)


def class_path(cls):
    """The shortest public import path of ``cls`` (``keras.optimizers.SGD`` rather than ``keras.src…``)."""
    module = cls.__module__
    if module.startswith("keras.src."):
        for public in ("keras.optimizers", "keras.optimizers.schedules"):
            if getattr(importlib.import_module(public), cls.__name__, None) is cls:
                return f"{public}.{cls.__name__}"
    return f"{module}.{cls.__qualname__}"


def dump_yaml(config, path):
    """Writes the config to ``path`` as YAML (atomically)."""
    data = to_yaml_data(config)
    outputs.write_atomically(path, lambda stream: yaml.safe_dump(data, stream, sort_keys=False,
                                                                 default_flow_style=None))


def save_experiment_config(config, source_path, paths):
    """Writes ``config.yaml`` and, for a Python source, a copy as ``config.py`` into the experiment.

    ``config.yaml`` is the whole config; the copy is for reading. A source that builds on other configs
    (``BASE``) is copied with a first comment naming the folder its ``BASE`` paths are relative to.
    """
    os.makedirs(paths.root, exist_ok=True)
    if source_path and source_path.endswith(".py") and os.path.abspath(source_path) != paths.config_py:
        with open(source_path, encoding="utf-8") as stream:
            text = stream.read()
        if config_sources.declared_base(source_path) is not None:
            text = (f"# Copied from {os.path.abspath(source_path)}: its BASE paths are relative to that folder. "
                    "config.yaml beside this file holds the whole config.\n" + text)
        outputs.write_atomically(paths.config_py, lambda out: out.write(text))
    dump_yaml(config, paths.config_yaml)
