"""Helpers shared by the benchmark scripts."""
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from lmnet import config as config_module  # noqa: E402
from lmnet.environment import Environment  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE_CLASSIFICATION = os.path.join(REPO, "configs", "example", "classification.py")


def load_config(path, network=None, **overrides):
    """Loads a config, applies top-level ``overrides`` and re-validates it."""
    config = config_module.load(path, network=network)
    config.update(overrides)
    return config_module.validate(dict(config))


def float_variant(config):
    """The config with the quantizers removed (for the float network of the same family)."""
    network = dict(config.NETWORK)
    for key in ("ACTIVATION_QUANTIZER", "ACTIVATION_QUANTIZER_KWARGS", "WEIGHT_QUANTIZER", "WEIGHT_QUANTIZER_KWARGS"):
        network[key] = None
    return config_module.validate(dict(config, NETWORK=network))


def scratch_environment():
    """An Environment whose OUTPUT_DIR is a fresh temporary folder."""
    return Environment(output_dir=tempfile.mkdtemp(prefix="lmnet-bench-"), data_dir=os.path.join(REPO, "dataset"))


def print_table(headers, rows):
    """Prints a markdown table."""
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    print("| " + " | ".join(str(h).ljust(w) for h, w in zip(headers, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths)) + " |")
