"""Composable configs: ``BASE`` chains of Python and YAML configs, and ``--set KEY=VALUE`` overrides."""
import os

import keras
import pytest
import yaml
from click.testing import CliRunner

from executor import profile_model as profile_executor, train as train_executor
from lmnet import config as config_module
from lmnet.config_sources import apply_overrides, parse_override
from lmnet.errors import ConfigError
from lmnet.quantizations import ternary
from tests.conftest import REPO, one_error_line, write_tiny_config

EXAMPLE_CLASSIFICATION = os.path.join(REPO, "configs", "example", "classification.py")


def write(path, text):
    path.write_text(text)
    return str(path)


def test_python_variant_changes_keys_and_edits_what_it_inherits(tmp_path):
    write_tiny_config(str(tmp_path), name="base.py")
    variant = write(tmp_path / "variant.py", """
BASE = "base.py"
MAX_STEPS = 7
NETWORK.OPTIMIZER_KWARGS["momentum"] = 0.5
DATASET.OPTIONS = dict(DATASET.OPTIONS, num_train=64)
""")
    base, config = config_module.load(str(tmp_path / "base.py")), config_module.load(variant)
    assert (base.MAX_STEPS, config.MAX_STEPS) == (20, 7)
    assert config.NETWORK.OPTIMIZER_KWARGS == {"momentum": 0.5}
    assert base.NETWORK.OPTIMIZER_KWARGS == {"momentum": 0.9}  # the base's own values are untouched
    assert config.DATASET.OPTIONS["num_train"] == 64
    assert config.NETWORK.LEARNING_RATE_KWARGS == base.NETWORK.LEARNING_RATE_KWARGS
    assert "BASE" not in config


def test_bases_apply_in_order_and_sections_merge_key_by_key(tmp_path):
    write_tiny_config(str(tmp_path), name="base.py")
    write(tmp_path / "fast.py", "MAX_STEPS = 3\nSUMMARISE_STEPS = 1\n")
    write(tmp_path / "ternary.py", "NETWORK = {'WEIGHT_QUANTIZER': 'ternary'}\n")
    data = {"BASE": ["base.py", "fast.py", "ternary.py"], "SUMMARISE_STEPS": 2}
    variant = write(tmp_path / "variant.yaml", yaml.safe_dump(data))
    config = config_module.load(variant)
    assert (config.MAX_STEPS, config.SUMMARISE_STEPS) == (3, 2)
    assert config.NETWORK.WEIGHT_QUANTIZER is ternary
    assert config.NETWORK.OPTIMIZER_CLASS is keras.optimizers.SGD  # the rest of NETWORK comes from base.py


@pytest.mark.parametrize("files, message", [
    ({"a.py": 'BASE = "b.py"\n', "b.py": 'BASE = "a.py"\n'}, r"config BASE cycle: .*a\.py -> .*b\.py -> .*a\.py"),
    ({"a.py": 'BASE = "missing.py"\n'}, r"config file .*missing\.py not found \(BASE of .*a\.py\)"),
    ({"a.py": "BASE = 3\n"}, r"a\.py: BASE must be a config path or a list of them, got 3"),
    ({"a.py": "BASE = NAME\n"}, r"a\.py: BASE must be a literal path or list of paths"),
])
def test_bad_bases_are_named(tmp_path, files, message):
    for name, text in files.items():
        write(tmp_path / name, text)
    with pytest.raises(ConfigError, match=message):
        config_module.load(str(tmp_path / "a.py"))


def test_overrides_parse_yaml_values_into_keys_and_sections():
    assert parse_override("MAX_STEPS=100") == (("MAX_STEPS",), 100)
    assert parse_override("IMAGE_SIZE=[160, 128]") == (("IMAGE_SIZE",), [160, 128])
    expected = (("NETWORK", "OPTIMIZER_KWARGS"), {"momentum": 0.8})
    assert parse_override("NETWORK.OPTIMIZER_KWARGS={momentum: 0.8}") == expected
    raw = {"MAX_STEPS": 5, "NETWORK": {"WEIGHT_DECAY_RATE": 0.1}}
    changed = apply_overrides(raw, ["MAX_STEPS=9", "NETWORK.WEIGHT_DECAY_RATE=0.2", "DATASET.ENABLE_PREFETCH=false"])
    assert changed == {"MAX_STEPS": 9, "NETWORK": {"WEIGHT_DECAY_RATE": 0.2}, "DATASET": {"ENABLE_PREFETCH": False}}
    assert raw == {"MAX_STEPS": 5, "NETWORK": {"WEIGHT_DECAY_RATE": 0.1}}


@pytest.mark.parametrize("text, message", [
    ("MAX_STEPS", r"--set 'MAX_STEPS': expected KEY=VALUE"),
    ("max_steps=3", r"expected KEY=VALUE with KEY a config key"),
    ("NETWORK.optimizer_kwargs=1", r"NETWORK\.KEY / DATASET\.KEY"),
    ("NETWORK.LEARNING_RATE_KWARGS..alpha=1", r"a key inside a mapping value"),
    ("IMAGE_SIZE=[1, 2", r"--set 'IMAGE_SIZE=\[1, 2': the value is not valid YAML"),
])
def test_bad_overrides_are_named(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_override(text)


def test_overrides_reach_keys_inside_mapping_values():
    raw = {"NETWORK": {"LEARNING_RATE_KWARGS": {"decay_steps": 10, "alpha": 0.01}}, "MAX_STEPS": 5}
    changed = apply_overrides(raw, ["NETWORK.LEARNING_RATE_KWARGS.decay_steps=40",
                                    "NETWORK.LEARNING_RATE_KWARGS.warmup_steps=4"])
    assert changed["NETWORK"]["LEARNING_RATE_KWARGS"] == {"decay_steps": 40, "alpha": 0.01, "warmup_steps": 4}
    assert raw["NETWORK"]["LEARNING_RATE_KWARGS"] == {"decay_steps": 10, "alpha": 0.01}
    with pytest.raises(ConfigError, match=r"--set 'MAX_STEPS.value=1': MAX_STEPS is 5 in the config, not a mapping"):
        apply_overrides(raw, ["MAX_STEPS.value=1"])
    with pytest.raises(ConfigError, match=r"TRAINER is None in the config, not a mapping, so it has no key 'STEPS'"):
        apply_overrides(raw, ["TRAINER.STEPS=1"])


def test_nested_override_reaches_the_loaded_config():
    config = config_module.load(EXAMPLE_CLASSIFICATION, overrides=["NETWORK.LEARNING_RATE_KWARGS.decay_steps=77"])
    assert config.NETWORK.LEARNING_RATE_KWARGS["decay_steps"] == 77
    assert config.NETWORK.LEARNING_RATE_KWARGS["initial_learning_rate"] == 2e-3


def test_override_values_are_checked_like_config_values(tiny_config):
    config = config_module.load(tiny_config, overrides=["NETWORK.WEIGHT_QUANTIZER=ternary",
                                                        "NETWORK.OPTIMIZER_CLASS=keras.optimizers.Adam"])
    assert config.NETWORK.WEIGHT_QUANTIZER is ternary and config.NETWORK.OPTIMIZER_CLASS is keras.optimizers.Adam
    with pytest.raises(ConfigError, match="MAX_STEPZ"):
        config_module.load(tiny_config, overrides=["MAX_STEPZ=3"])
    with pytest.raises(ConfigError, match="expects a class from lmnet, keras.optimizers or .*got 'os.system'"):
        config_module.load(tiny_config, overrides=["NETWORK.OPTIMIZER_CLASS=os.system"])


def test_train_set_overrides_reach_the_saved_config(tiny_config, environment):
    result = CliRunner().invoke(train_executor.main, ["-c", tiny_config, "-i", "setrun", "--no_progress",
                                                      "--set", "MAX_STEPS=2", "--set", "TEST_STEPS=2",
                                                      "--set", "SAVE_CHECKPOINT_STEPS=2"])
    assert result.exit_code == 0, result.output
    saved = config_module.load(os.path.join(environment.output_dir, "setrun", "config.yaml"))
    assert (saved.MAX_STEPS, saved.TEST_STEPS) == (2, 2)


def test_bad_set_gives_one_error_line(tiny_config, environment):
    result = CliRunner().invoke(profile_executor.main, ["-c", tiny_config, "--set", "MAX_STEPS"])
    assert "--set 'MAX_STEPS': expected KEY=VALUE" in one_error_line(result.exit_code, result.output)


def test_experiment_copy_of_a_variant_names_where_its_bases_are(tmp_path, environment):
    write_tiny_config(str(tmp_path), name="base.py")
    variant = write(tmp_path / "variant.py", 'BASE = "base.py"\nMAX_STEPS = 3\n')
    paths = environment.experiment("variant")
    config_module.save_experiment_config(config_module.load(variant), variant, paths)
    copy = open(paths.config_py).read()
    assert copy.startswith(f"# Copied from {variant}: its BASE paths are relative to that folder.")
    assert copy.endswith('BASE = "base.py"\nMAX_STEPS = 3\n')
    assert config_module.load(paths.config_yaml).MAX_STEPS == 3  # config.yaml stands alone


def test_post_processor_must_equal_the_networks_own(tmp_path):
    from tests.conftest import write_tiny_detection_config
    path = write_tiny_detection_config(str(tmp_path))
    with open(path, "a") as stream:
        stream.write("from lmnet.post_processor import NMS, ExcludeLowScoreBox, FormatYoloV2\n"
                     "CLASSES = ['a', 'b']\n"
                     "POST_PROCESSOR = Sequence([FormatYoloV2(IMAGE_SIZE, CLASSES, NETWORK.ANCHORS),\n"
                     "                           ExcludeLowScoreBox(0.05), NMS(CLASSES, 0.5, 100)])\n")
    config = config_module.load(path, overrides=["NETWORK.SCORE_THRESHOLD=0.05", "NETWORK.NMS_IOU_THRESHOLD=0.5",
                                                 "NETWORK.NMS_MAX_OUTPUT_SIZE=100"])
    assert config.POST_PROCESSOR.processors[1].threshold == 0.05
    with pytest.raises(ConfigError, match=r"'POST_PROCESSOR' differs from the post-processing LMFYoloQuantize builds "
                                          r".*POST_PROCESSOR\[1\]\.ExcludeLowScoreBox\.threshold is 0\.05, the "
                                          r"network's is 0\.3"):
        config_module.load(path, overrides=["NETWORK.SCORE_THRESHOLD=0.3", "NETWORK.NMS_IOU_THRESHOLD=0.5",
                                            "NETWORK.NMS_MAX_OUTPUT_SIZE=100"])
