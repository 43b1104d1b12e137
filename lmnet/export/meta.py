"""``config.yaml`` and ``meta.yaml`` of an export, and the config seen at the export's image size."""
import copy
import os

import yaml

from lmnet import config as config_module, outputs
from lmnet.runtime.layout import CONFIG_FILE, META_FILE
from lmnet.runtime.meta import meta_data


def resize_processor(processor, image_size):
    """``processor`` set to the network input ``image_size`` (``None`` stays ``None``); see
    :meth:`lmnet.data_processor.Processor.at_image_size`."""
    return None if processor is None else processor.at_image_size([int(v) for v in image_size])


def config_at_size(config, image_size):
    """A copy of ``config`` whose IMAGE_SIZE (top level, NETWORK, DATASET) and processors use ``image_size``.

    Raises:
        ConfigError: the network cannot take ``image_size``.
    """
    image_size = [int(v) for v in image_size]
    config.NETWORK_CLASS.check_image_size(image_size)
    result = copy.deepcopy(config)
    result.IMAGE_SIZE = image_size
    result.NETWORK.IMAGE_SIZE = image_size
    result.DATASET.IMAGE_SIZE = image_size
    result.PRE_PROCESSOR = resize_processor(config.PRE_PROCESSOR, image_size)
    result.DATASET.PRE_PROCESSOR = resize_processor(config.DATASET.PRE_PROCESSOR, image_size)
    result.POST_PROCESSOR = resize_processor(config.POST_PROCESSOR, image_size)
    return result


def write_meta(path, data):
    """Writes ``meta.yaml`` with ``yaml.safe_dump``."""
    outputs.write_atomically(path, lambda stream: yaml.safe_dump(data, stream, sort_keys=False,
                                                                 default_flow_style=None))


def write_config_and_meta(directory, config, export_config, classes, post):
    """Writes ``config.yaml`` (the experiment's whole config) and ``meta.yaml`` into ``directory``.

    Returns:
        ``(config.yaml path, meta.yaml path)``.
    """
    config_path = os.path.join(directory, CONFIG_FILE)
    meta_path = os.path.join(directory, META_FILE)
    config_module.dump_yaml(config, config_path)
    write_meta(meta_path, meta_data(export_config.TASK, classes, export_config.IMAGE_SIZE, export_config.DATA_FORMAT,
                                    export_config.PRE_PROCESSOR, post))
    return config_path, meta_path
