"""Reading (and writing) an export folder's ``meta.yaml`` (ARCHITECTURE §7)."""
import dataclasses
import os

from lmnet.common import Tasks
from lmnet.data_processor import processor_from_dict, processor_to_data
from lmnet.errors import ConfigError
from lmnet.runtime.layout import CONFIG_FILE, META_FILE
from lmnet.tasks import get_task
from lmnet.yaml_io import read_yaml_mapping

META_KEYS = ("TASK", "CLASSES", "IMAGE_SIZE", "DATA_FORMAT", "PRE_PROCESSOR", "POST_PROCESSOR")


@dataclasses.dataclass(frozen=True)
class ExportMeta:
    """The contents of ``meta.yaml`` with the processors rebuilt.

    Attributes:
        task: a :class:`lmnet.common.Tasks` value.
        classes: the class names.
        image_size: ``(height, width)`` of the network input.
        data_format: ``"NHWC"``.
        pre_processor: processor applied to each raw image (or ``None``).
        post_processor: processor applied to the raw network output (or ``None``).
    """

    task: str
    classes: list
    image_size: tuple
    data_format: str
    pre_processor: object
    post_processor: object


def meta_data(task, classes, image_size, data_format, pre_processor, post_processor):
    """The YAML-safe mapping written as ``meta.yaml`` (processors via ``processor_to_data``)."""
    return {"TASK": task, "CLASSES": [str(name) for name in classes], "IMAGE_SIZE": [int(v) for v in image_size],
            "DATA_FORMAT": data_format, "PRE_PROCESSOR": processor_to_data(pre_processor),
            "POST_PROCESSOR": processor_to_data(post_processor)}


def _check(data, path):
    """Raises :class:`ConfigError` on a missing key or a bad task, classes or size."""
    missing = [key for key in META_KEYS if key not in data]
    if missing:
        raise ConfigError(f"{path}: missing keys {', '.join(missing)}")
    if data["TASK"] not in Tasks.ALL:
        raise ConfigError(f"{path}: TASK must be one of {', '.join(Tasks.ALL)}, got {data['TASK']!r}")
    if not isinstance(data["CLASSES"], list) or not data["CLASSES"]:
        raise ConfigError(f"{path}: CLASSES must be a non-empty list of names")
    size = data["IMAGE_SIZE"]
    if not isinstance(size, list) or len(size) != 2 or not all(isinstance(v, int) and v > 0 for v in size):
        raise ConfigError(f"{path}: IMAGE_SIZE must be [height, width], got {size!r}")
    if data["DATA_FORMAT"] != "NHWC":
        raise ConfigError(f"{path}: only DATA_FORMAT NHWC is supported, got {data['DATA_FORMAT']!r}")


def load_meta(export_dir):
    """Reads ``<export_dir>/meta.yaml`` and rebuilds its processors (NumPy implementations).

    Raises:
        ConfigError: the file is missing or invalid; the message names it and the key.
    """
    path = os.path.join(export_dir, META_FILE)
    data = read_yaml_mapping(path, f"{path} not found; is this an lmnet export folder?")
    _check(data, path)
    post_processor = processor_from_dict(data["POST_PROCESSOR"], f"{path}: POST_PROCESSOR")
    if get_task(data["TASK"]).needs_post_processor and post_processor is None:
        raise ConfigError(f"{path}: a detection export needs a POST_PROCESSOR turning the raw output into boxes")
    return ExportMeta(task=data["TASK"], classes=[str(name) for name in data["CLASSES"]],
                      image_size=tuple(data["IMAGE_SIZE"]), data_format=data["DATA_FORMAT"],
                      pre_processor=processor_from_dict(data["PRE_PROCESSOR"], f"{path}: PRE_PROCESSOR"),
                      post_processor=post_processor)


def export_batch_size(export_dir, default=1):
    """``BATCH_SIZE`` of the export's ``config.yaml`` (how predict.py groups images), else ``default``."""
    path = os.path.join(export_dir, CONFIG_FILE)
    if not os.path.isfile(path):
        return default
    value = read_yaml_mapping(path).get("BATCH_SIZE")
    return value if isinstance(value, int) and value > 0 else default
