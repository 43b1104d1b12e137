"""Base of pre-processors, augmentors and post-processors, and their ``Sequence``.

A processor is a small callable object working on NumPy arrays. It takes the sample as keyword
arguments (``image`` plus the target: ``label`` for classification, ``gt_boxes`` for detection;
post-processors take ``outputs``) and a ``rng`` (a :class:`numpy.random.Generator`, used by
augmentors only), and returns the sample as a dict; keys it does not know pass through.

Processors serialize as their class name and constructor parameters: ``{"Resize": {"size":
[32, 32]}}``; a :class:`Sequence` serializes as the list of its processors. Nothing is pickled.
Every subclass is registered by class name when its module is imported.
"""
import importlib
import inspect

import numpy as np

from lmnet.errors import ConfigError

_REGISTRY = {}
_PROCESSOR_MODULES = ("lmnet.pre_processor", "lmnet.data_augmentor", "lmnet.post_processor", "lmnet.nms")


def _yaml_value(value):
    """Turns tuples and NumPy scalars into plain lists and numbers for YAML."""
    if isinstance(value, (tuple, list)):
        return [_yaml_value(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: _yaml_value(v) for k, v in value.items()}
    return value


class Processor:
    """Base class of every processor.

    Subclasses implement ``__call__(self, image, rng=None, **kwargs) -> dict`` and store each
    constructor argument as an attribute of the same name, which is what :meth:`params` reads.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            _REGISTRY[cls.__name__] = cls

    def __call__(self, rng=None, **sample):
        raise NotImplementedError

    #: The constructor parameter holding the network input size ``(height, width)`` (resizing, box
    #: decoding), or ``None``. Left unset (``None``) in a config, it is filled from ``IMAGE_SIZE``.
    input_size_param = None

    def at_image_size(self, image_size):
        """This processor for a network input of ``image_size`` ``(height, width)``.

        Processors that hold the network input size (:attr:`input_size_param`) return a copy set to
        ``image_size``; the others return themselves.
        """
        if self.input_size_param is None:
            return self
        return self._with_params(**{self.input_size_param: [int(v) for v in image_size]})

    def follow_image_size(self, image_size, where, strict=True):
        """This processor with its input size filled from ``image_size`` where it is unset.

        Args:
            image_size: the config's ``IMAGE_SIZE``.
            where: the config key holding this processor, for the error message.
            strict: a size that is set must equal ``image_size`` (pre- and post-processing, which
                produce and read the network input); otherwise it is kept (an augmentor may resize
                to another size before cropping).

        Raises:
            ConfigError: ``strict`` and the size set differs from ``image_size``.
        """
        if self.input_size_param is None:
            return self
        size = getattr(self, self.input_size_param)
        if size is None:
            return self.at_image_size(image_size)
        if strict and list(size) != list(image_size):
            raise ConfigError(f"config key '{where}': {type(self).__name__} {self.input_size_param}={list(size)} "
                              f"differs from IMAGE_SIZE {list(image_size)}; leave {self.input_size_param} unset "
                              "and it follows IMAGE_SIZE")
        return self

    def _with_params(self, **changes):
        """A new processor of the same class with ``changes`` applied to :meth:`params`."""
        return type(self)(**dict(self.params(), **changes))

    def params(self):
        """Returns the constructor parameters as a dict of YAML-friendly values."""
        names = [name for name, p in inspect.signature(type(self).__init__).parameters.items()
                 if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        return {name: _yaml_value(getattr(self, name)) for name in names}

    def to_dict(self):
        """Serializes as ``{ClassName: params}``."""
        return {type(self).__name__: self.params()}

    def __eq__(self, other):
        return type(self) is type(other) and self.params() == other.params()

    def __hash__(self):
        return hash(type(self).__name__)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


class Sequence(Processor):
    """Applies processors one after the other, passing the sample dict along.

    Args:
        processors: the processors, applied in order.
    """

    def __init__(self, processors):
        self.processors = list(processors)

    def __call__(self, image=None, rng=None, **sample):
        """Applies each processor to the sample and returns the final dict.

        ``image`` may be given positionally; post-processing sequences pass ``outputs`` instead.
        """
        if image is not None:
            sample["image"] = image
        for processor in self.processors:
            sample = processor(rng=rng, **sample)
        return sample

    def at_image_size(self, image_size):
        """The sequence with every processor set to ``image_size`` (see :meth:`Processor.at_image_size`)."""
        return Sequence([processor.at_image_size(image_size) for processor in self.processors])

    def follow_image_size(self, image_size, where, strict=True):
        """The sequence with every processor's unset input size filled (see :meth:`Processor.follow_image_size`)."""
        return Sequence([processor.follow_image_size(image_size, f"{where}[{index}]", strict)
                         for index, processor in enumerate(self.processors)])

    def with_params(self, processor_class, **changes):
        """The sequence with ``changes`` applied to every processor of exactly ``processor_class`` (for variant
        configs: ``DATASET.AUGMENTOR.with_params(ResizeWithGtBoxes, resample="NEAREST")``)."""
        return Sequence([processor._with_params(**changes) if type(processor) is processor_class else processor
                         for processor in self.processors])

    def to_dict(self):
        """Serializes as the list of the processors' dicts."""
        return [p.to_dict() for p in self.processors]

    def params(self):
        """Returns ``{"processors": [...]}`` with each processor serialized."""
        return {"processors": self.to_dict()}


class OutputsProcessor(Processor):
    """Base of the post-processors: ``__call__`` replaces the sample's ``outputs`` with :meth:`process`."""

    def __call__(self, outputs, rng=None, **sample):
        """Returns the sample with ``outputs`` post-processed by :meth:`process`."""
        return dict(sample, outputs=self.process(outputs))

    def process(self, outputs):
        """The NumPy post-processing of one batch; subclasses implement it."""
        raise NotImplementedError


def import_tensorflow():
    """Imports TensorFlow lazily, so that the NumPy paths of the processors run without it."""
    import tensorflow as tf
    return tf


def registered_processors():
    """Returns ``{class name: class}`` of every processor, importing the processor modules."""
    for module in _PROCESSOR_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as error:
            if error.name != module:
                raise
    return dict(_REGISTRY)


def processor_from_dict(data, where="processor"):
    """Rebuilds a processor (or a :class:`Sequence` from a list) from its serialized form.

    Args:
        data: ``{ClassName: params}``, a list of those, or ``None``.
        where: the config key, named in errors.

    Returns:
        The processor, a ``Sequence``, or ``None``.

    Raises:
        ConfigError: unknown class name or bad parameters.
    """
    if data is None:
        return None
    if isinstance(data, list):
        return Sequence([processor_from_dict(item, where) for item in data])
    if not isinstance(data, dict) or len(data) != 1:
        raise ConfigError(f"{where}: expected {{ClassName: {{params}}}} or a list of them, got {data!r}")
    (name, params), = data.items()
    registry = registered_processors()
    if name not in registry:
        raise ConfigError(f"{where}: unknown processor '{name}'; known: {', '.join(sorted(registry))}")
    try:
        return registry[name](**(params or {}))
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{where}: bad parameters for {name}: {error}") from None


def processor_to_data(processor):
    """Serializes a processor, a ``Sequence`` or ``None`` for YAML."""
    return None if processor is None else processor.to_dict()
