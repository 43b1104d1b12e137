"""Reading YAML mappings safely, with errors that name the file."""
import os

import yaml

from lmnet.errors import ConfigError


def read_yaml_mapping(path, not_found=None, expected="a mapping"):
    """Reads a YAML file with ``yaml.safe_load`` and returns its top-level mapping.

    Args:
        path: the file.
        not_found: message when the file is missing (default ``"<path> not found"``).
        expected: what the mapping holds, named when the file holds something else.

    Raises:
        ConfigError: missing file, invalid YAML, or a top level that is not a mapping.
    """
    if not os.path.isfile(path):
        raise ConfigError(not_found or f"{path} not found")
    with open(path) as stream:
        try:
            data = yaml.safe_load(stream)
        except yaml.YAMLError as error:
            raise ConfigError(f"{path}: invalid YAML ({error})".replace("\n", " ")) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected {expected}")
    return dict(data)
