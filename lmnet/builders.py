"""Builds datasets, pipelines and networks from a validated config."""
from lmnet.config import network_kwargs
from lmnet.errors import ConfigError, DatasetError
from lmnet.mixed_precision import FLOAT32, config_policy, dtype_policy
from lmnet.pipeline import SampleProcessor


def build_dataset(config, data_dir, subset):
    """Instantiates ``DATASET_CLASS`` for ``subset`` with ``DATASET.OPTIONS`` as extra arguments.

    Raises:
        ConfigError: the dataset class rejects an option.
    """
    options = dict(config.DATASET.OPTIONS or {})
    try:
        return config.DATASET_CLASS(subset=subset, data_dir=data_dir,
                                    train_validation_saving_size=config.DATASET.TRAIN_VALIDATION_SAVING_SIZE,
                                    seed=config.SEED, **options)
    except TypeError as error:
        raise ConfigError(f"DATASET.OPTIONS: {config.DATASET_CLASS.__name__} rejects them: {error}") from None


def build_processor(config, dataset, training):
    """The :class:`SampleProcessor` of ``dataset`` (with the augmentor when ``training``).

    With ``DATASET.CACHE_DIR`` set, it caches decoded images (training with an augmentor) or
    pre-processed samples (otherwise) there; see :mod:`lmnet.datasets.cache`.
    """
    return SampleProcessor(dataset, pre_processor=config.DATASET.PRE_PROCESSOR,
                           augmentor=config.DATASET.AUGMENTOR if training else None,
                           image_size=config.IMAGE_SIZE, cache_dir=config.DATASET.get("CACHE_DIR"),
                           cache_options=config.DATASET.OPTIONS,
                           parallel_calls=config.DATASET.get("NUM_PARALLEL_CALLS"))


def dataset_classes(config, dataset):
    """The class names, checked between the config's ``CLASSES`` and the dataset.

    Raises:
        DatasetError: they disagree.
    """
    classes = list(dataset.classes)
    if config.CLASSES and classes and list(config.CLASSES) != classes:
        raise DatasetError(f"CLASSES in the config {config.CLASSES} differ from the dataset's {classes}")
    return classes or list(config.CLASSES or [])


def build_network(config, classes, mixed_precision=True):
    """Instantiates ``NETWORK_CLASS`` with the ``NETWORK`` keys as arguments.

    With ``MIXED_PRECISION`` set (and ``mixed_precision`` true) the Keras model is built at once under
    that dtype policy, which is restored afterwards; otherwise it stays float32 and is built on first use.

    Args:
        config: the validated config.
        classes: class names.
        mixed_precision: honour ``MIXED_PRECISION`` (export passes ``False``: exported models are float32).

    Raises:
        ConfigError: the network rejects a key, or ``MIXED_PRECISION`` is not an allowed value.
    """
    policy = config_policy(config, enabled=mixed_precision)
    try:
        network = config.NETWORK_CLASS(classes=classes, **network_kwargs(config))
    except TypeError as error:
        raise ConfigError(f"NETWORK: {config.NETWORK_CLASS.__name__} rejects a key: {error}") from None
    if policy != FLOAT32:
        with dtype_policy(policy):
            _ = network.model
    return network


def build_post_processor(config, network):
    """The post-processing applied to the raw network output: the config's ``POST_PROCESSOR``, else the
    network's own (detection networks build decode, score threshold and NMS from their settings;
    classifiers already output probabilities and get ``None``)."""
    if config.POST_PROCESSOR is not None:
        return config.POST_PROCESSOR
    default = getattr(network, "post_processor", None)
    return default() if callable(default) else None
