"""Config loading, validation, overrides and the YAML round trip."""
import os

import keras
import pytest
import yaml

from lmnet import config as config_module
from lmnet.common import Tasks
from lmnet.data_processor import Sequence
from lmnet.datasets.cifar10 import Cifar10
from lmnet.errors import ConfigError
from lmnet.networks.classification.lmnet_v1 import LmnetV1
from lmnet.networks.classification.lmnet_v1_quantize import LmnetV1Quantize
from lmnet.quantizations import linear_mid_tread_half
from tests.conftest import REPO, write_tiny_config

EXAMPLE = os.path.join(REPO, "configs", "example", "classification.py")


def test_load_fills_defaults_and_shared_keys(tiny_config):
    config = config_module.load(tiny_config)
    assert config.NETWORK_CLASS is LmnetV1Quantize
    assert config.TASK == Tasks.CLASSIFICATION
    assert config.CLASSES == list(config.DATASET_CLASS.classes)
    assert config.NETWORK.IMAGE_SIZE == [16, 16] and config.DATASET.BATCH_SIZE == 8
    assert config.DATASET.PRE_PROCESSOR == config.PRE_PROCESSOR
    assert config.IS_PRETRAIN is False and config.SEED == 0
    assert config.NETWORK.ACTIVATION_QUANTIZER is linear_mid_tread_half
    assert config_module.validate(dict(config)) == config  # validating again changes nothing


@pytest.mark.parametrize("path", [EXAMPLE, None])
def test_yaml_round_trip_is_equal(tmp_path, path):
    path = path or write_tiny_config(str(tmp_path), tvs=10)
    config = config_module.load(path)
    yaml_path = str(tmp_path / "config.yaml")
    config_module.dump_yaml(config, yaml_path)
    again = config_module.load(yaml_path)
    assert again == config
    assert isinstance(again.DATASET.AUGMENTOR, Sequence)
    assert again.NETWORK.OPTIMIZER_CLASS is config.NETWORK.OPTIMIZER_CLASS
    with open(yaml_path) as stream:
        data = yaml.safe_load(stream)
    assert data["NETWORK_CLASS"] == "lmnet.networks.classification.lmnet_v1_quantize.LmnetV1Quantize"
    assert data["NETWORK"]["ACTIVATION_QUANTIZER"] == "linear_mid_tread_half"
    assert data["NETWORK"]["OPTIMIZER_CLASS"] == "keras.optimizers.SGD" or path == EXAMPLE


def test_all_shipped_configs_load():
    root = os.path.join(REPO, "configs")
    paths = [os.path.join(d, f) for d, _, files in os.walk(root) for f in files
             if f.endswith(".py") and os.path.basename(d) != "common"]  # common/ holds pieces named in BASE
    assert len(paths) >= 7
    for path in paths:
        config = config_module.load(path)
        assert config.NETWORK_CLASS.task == config.TASK


@pytest.mark.parametrize("extra, message", [
    ("NETWORK.OPTIMIZER_KWARG = {}\n", "unknown config key 'NETWORK.OPTIMIZER_KWARG'; did you mean "
                                       "'NETWORK.OPTIMIZER_KWARGS'?"),
    ("MAX_STEP = 3\n", "unknown config key 'MAX_STEP'; did you mean 'MAX_STEPS'?"),
    ("DATASET.AUGMENTER = None\n", "did you mean 'DATASET.AUGMENTOR'?"),
    ("BATCH_SIZE = '8'\n", "config key 'BATCH_SIZE' expects an integer of at least 1, got '8'"),
    ("BATCH_SIZE = 0\n", "config key 'BATCH_SIZE' expects an integer of at least 1, got 0"),
    ("MAX_STEPS = -5\n", "config key 'MAX_STEPS' expects an integer of at least 1, got -5"),
    ("SAVE_CHECKPOINT_STEPS = 0\n", "config key 'SAVE_CHECKPOINT_STEPS' expects an integer of at least 1, got 0"),
    ("TEST_STEPS = 0\n", "config key 'TEST_STEPS' expects an integer of at least 1, got 0"),
    ("SEED = -1\n", "config key 'SEED' expects an integer of at least 0, got -1"),
    ("MAX_EPOCHS = 0.0\n", "config key 'MAX_EPOCHS' expects a number above 0, got 0.0"),
    ("NETWORK.WEIGHT_DECAY_RATE = float('nan')\n", "'NETWORK.WEIGHT_DECAY_RATE' expects a finite number, got nan"),
    ("NETWORK.SCORE_THRESHOLD = 1.5\n", "'NETWORK.SCORE_THRESHOLD' expects a number of at least 0 and at most 1"),
    ("IMAGE_SIZE = [16]\n", "config key 'IMAGE_SIZE' expects [height, width]"),
    ("IS_PRETRAIN = 1\n", "config key 'IS_PRETRAIN' expects True or False"),
    ("NETWORK.WEIGHT_DECAY_RATE = 'x'\n", "'NETWORK.WEIGHT_DECAY_RATE' expects a finite number"),
    ("NETWORK_CLASS = int\n", "'NETWORK_CLASS' expects a subclass of BaseNetwork"),
    ("NETWORK.ACTIVATION_QUANTIZER = 'nope'\n", "unknown quantizer 'nope'"),
    ("IMAGE_SIZE = [20, 16]\n", "IMAGE_SIZE: LmnetV1Quantize needs [height, width] divisible by 8, got [20, 16]"),
    ("TASK = 'IMAGE.OBJECT_DETECTION'\n", "config key 'TASK' is IMAGE.OBJECT_DETECTION"),
    ("NETWORK.IMAGE_SIZE = [8, 8]\n", "'NETWORK.IMAGE_SIZE' ([8, 8]) differs from 'IMAGE_SIZE'"),
    ("del MAX_STEPS\n", "missing required config key 'MAX_STEPS'"),
    ("DATASET.NUM_PARALLEL_CALLS = 0\n",
     "config key 'DATASET.NUM_PARALLEL_CALLS' expects an integer of at least 1, got 0"),
    ("del NETWORK_CLASS\n", "missing required config key 'NETWORK_CLASS'"),
])
def test_invalid_configs_name_the_key(tmp_path, extra, message):
    path = write_tiny_config(str(tmp_path), extra=extra)
    with pytest.raises(ConfigError) as error:
        config_module.load(path)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_broken_module_and_missing_file_are_config_errors(tmp_path):
    path = write_tiny_config(str(tmp_path), extra="1 / 0\n")
    with pytest.raises(ConfigError, match="cannot execute config module .*ZeroDivisionError"):
        config_module.load(path)
    with pytest.raises(ConfigError, match="not found"):
        config_module.load(str(tmp_path / "missing.py"))
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("NETWORK_CLASS: [unclosed\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        config_module.load(str(bad_yaml))


def test_network_and_dataset_overrides(tiny_config):
    config = config_module.load(tiny_config, network="classification.lmnet_v1", dataset="cifar10")
    assert config.NETWORK_CLASS is LmnetV1
    assert config.DATASET_CLASS is Cifar10
    assert config.CLASSES == Cifar10.classes
    with pytest.raises(ConfigError, match="no module 'nope' in lmnet.networks"):
        config_module.load(tiny_config, network="nope")


def test_yaml_refuses_unknown_processor(tmp_path, tiny_config):
    data = config_module.to_yaml_data(config_module.load(tiny_config))
    data["PRE_PROCESSOR"] = {"Explode": {}}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="unknown processor 'Explode'"):
        config_module.load(str(path))


def test_class_path_prefers_public_keras_names():
    assert config_module.class_path(keras.optimizers.Adam) == "keras.optimizers.Adam"
    assert (config_module.class_path(keras.optimizers.schedules.CosineDecay)
            == "keras.optimizers.schedules.CosineDecay")


EXAMPLE_DETECTION = os.path.join(REPO, "configs", "example", "object_detection_float.py")


def test_image_size_given_once_reaches_every_processor_and_the_generated_data():
    config = config_module.load(EXAMPLE_DETECTION, overrides=["IMAGE_SIZE=[160, 96]"])
    assert config.PRE_PROCESSOR.processors[0].size == (160, 96)
    assert config.DATASET.PRE_PROCESSOR.processors[0].size == (160, 96)
    assert config.POST_PROCESSOR.processors[0].image_size == (160, 96)
    assert config.DATASET.OPTIONS["image_size"] == [160, 96]
    assert config.NETWORK.IMAGE_SIZE == [160, 96]


def test_unset_post_processor_becomes_the_networks_own():
    config = config_module.load(EXAMPLE_DETECTION)
    decode, exclude, nms = config.POST_PROCESSOR.processors
    names = [type(processor).__name__ for processor in (decode, exclude, nms)]
    assert names == ["FormatYoloV2", "ExcludeLowScoreBox", "NMS"]
    assert decode.anchors == ((0.6, 0.6), (0.9, 0.9), (1.25, 1.25), (1.7, 1.7))
    assert exclude.threshold == 0.05 and list(decode.classes) == list(config.CLASSES)


def test_a_written_pre_processor_size_other_than_image_size_is_refused_by_key(tmp_path):
    path = write_tiny_config(str(tmp_path), extra="""
        from lmnet.pre_processor import Resize
        PRE_PROCESSOR = Sequence([Resize(size=[24, 24]), DivideBy255()])
        """)
    with pytest.raises(ConfigError, match=r"'PRE_PROCESSOR\[0\]': Resize size=\[24, 24\] differs from IMAGE_SIZE "
                                          r"\[16, 16\]; leave size unset"):
        config_module.load(path)


def test_an_augmentor_may_resize_to_another_size(tmp_path):
    path = write_tiny_config(str(tmp_path), extra="""
        from lmnet.data_augmentor import Crop
        from lmnet.pre_processor import Resize
        DATASET.AUGMENTOR = Sequence([Resize(size=[20, 20]), Crop(size=[18, 18])])
        PRE_PROCESSOR = Sequence([Resize(), DivideBy255()])
        """)
    config = config_module.load(path)
    assert config.DATASET.AUGMENTOR.processors[0].size == (20, 20)
    assert config.PRE_PROCESSOR.processors[0].size == (16, 16)
