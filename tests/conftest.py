"""Shared fixtures: a tiny, fast classification config written as a real Python module."""
import fcntl
import glob
import os
import textwrap

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TINY_CONFIG = """
import keras

from lmnet.config import SmartDict
from lmnet.data_augmentor import FlipLeftRight
from lmnet.data_processor import Sequence
from lmnet.datasets.synthetic_shapes import SyntheticShapes
from lmnet.networks.classification.lmnet_v1_quantize import LmnetV1Quantize
from lmnet.pre_processor import DivideBy255
from lmnet.quantizations import binary_channel_wise_mean_scaling, linear_mid_tread_half

NETWORK_CLASS = LmnetV1Quantize
DATASET_CLASS = SyntheticShapes
IMAGE_SIZE = [16, 16]
BATCH_SIZE = 8
MAX_STEPS = {max_steps}
SAVE_CHECKPOINT_STEPS = {save_steps}
KEEP_CHECKPOINT_MAX = {keep}
TEST_STEPS = {test_steps}
JIT_COMPILE = False  # XLA compiles in seconds what these few steps run in less; tests opt in
SUMMARISE_STEPS = 5
PRE_PROCESSOR = DivideBy255()

NETWORK = SmartDict()
NETWORK.OPTIMIZER_CLASS = keras.optimizers.SGD
NETWORK.OPTIMIZER_KWARGS = {{"momentum": 0.9}}
NETWORK.LEARNING_RATE_FUNC = keras.optimizers.schedules.PiecewiseConstantDecay
NETWORK.LEARNING_RATE_KWARGS = {{"boundaries": [10], "values": [0.01, 0.001]}}
NETWORK.WEIGHT_DECAY_RATE = 0.0001
NETWORK.ACTIVATION_QUANTIZER = linear_mid_tread_half
NETWORK.ACTIVATION_QUANTIZER_KWARGS = {{"bit": 2, "max_value": 2.0}}
NETWORK.WEIGHT_QUANTIZER = binary_channel_wise_mean_scaling
NETWORK.WEIGHT_QUANTIZER_KWARGS = {{}}

DATASET = SmartDict()
DATASET.AUGMENTOR = Sequence([FlipLeftRight()])
DATASET.TRAIN_VALIDATION_SAVING_SIZE = {tvs}
DATASET.OPTIONS = {{"image_size": IMAGE_SIZE, "num_train": 200, "num_validation": 40}}
"""


def write_tiny_config(directory, name="tiny.py", max_steps=20, save_steps=5, keep=2, test_steps=10, tvs=0,
                      extra=""):
    """Writes the tiny config module into ``directory`` and returns its path."""
    path = os.path.join(directory, name)
    with open(path, "w") as stream:
        stream.write(TINY_CONFIG.format(max_steps=max_steps, save_steps=save_steps, keep=keep,
                                        test_steps=test_steps, tvs=tvs))
        stream.write(textwrap.dedent(extra))
    return path


def large_networks():
    """Networks whose export needs 10-17 GB (tf2onnx holds about 60 copies of the weights): their tests take turns
    across pytest-xdist workers, so two never convert at once on CI's 24 GB (docs/development.rst)."""
    from lmnet.networks.classification.darknet19 import Darknet19
    from lmnet.networks.classification.vgg16 import VGG16
    from lmnet.networks.object_detection.yolo_v2 import YoloV2
    from lmnet.networks.object_detection.yolo_v2_quantize import YoloV2Quantize
    return (YoloV2, YoloV2Quantize, VGG16, Darknet19)


@pytest.fixture(autouse=True)
def large_networks_take_turns(request, tmp_path_factory):
    """Holds a lock shared by the workers (in the run's common temporary folder) while a test parametrized with one
    of :func:`large_networks` runs; other tests run as usual."""
    params = getattr(getattr(request.node, "callspec", None), "params", {})
    if not params or not any(value in large_networks() for value in params.values() if isinstance(value, type)):
        yield
        return
    with open(tmp_path_factory.getbasetemp().parent / "large_networks.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@pytest.fixture
def tiny_config(tmp_path):
    """Path of a tiny config module in a temporary folder."""
    return write_tiny_config(str(tmp_path))


@pytest.fixture
def environment(tmp_path, monkeypatch):
    """OUTPUT_DIR and DATA_DIR pointed into the temporary folder."""
    monkeypatch.setenv("OUTPUT_DIR", str(tmp_path / "saved"))
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "dataset"))
    from lmnet.environment import Environment
    return Environment.from_env()


def checkpoint_steps(directory):
    """Steps of the ``save.ckpt-<step>`` checkpoints in ``directory``, sorted."""
    names = glob.glob(os.path.join(directory, "save.ckpt-*.index"))
    return sorted(int(os.path.basename(name)[len("save.ckpt-"):-len(".index")]) for name in names)


def committed_step(directory):
    """Step of the checkpoint the ``checkpoint`` state file in ``directory`` names, or -1."""
    import tensorflow as tf
    path = tf.train.latest_checkpoint(directory)
    return int(path.rsplit("-", 1)[1]) if path else -1


TINY_DETECTION_CONFIG = """
import keras

from lmnet.config import SmartDict
from lmnet.data_augmentor import FlipLeftRight
from lmnet.data_processor import Sequence
from lmnet.datasets.synthetic_shapes_detection import SyntheticShapesDetection
from lmnet.networks.object_detection.lm_fyolo_quantize import LMFYoloQuantize
from lmnet.pre_processor import PerImageStandardization, ResizeWithGtBoxes
from lmnet.quantizations import binary_channel_wise_mean_scaling, linear_mid_tread_half

NETWORK_CLASS = LMFYoloQuantize
DATASET_CLASS = SyntheticShapesDetection
IMAGE_SIZE = [64, 64]
BATCH_SIZE = 4
MAX_STEPS = {max_steps}
SAVE_CHECKPOINT_STEPS = {save_steps}
KEEP_CHECKPOINT_MAX = 2
TEST_STEPS = {test_steps}
JIT_COMPILE = False  # XLA compiles in seconds what these few steps run in less; tests opt in
SUMMARISE_STEPS = 2
PRE_PROCESSOR = Sequence([ResizeWithGtBoxes(), PerImageStandardization()])

NETWORK = SmartDict()
NETWORK.OPTIMIZER_CLASS = keras.optimizers.Adam
NETWORK.OPTIMIZER_KWARGS = {{"learning_rate": 0.001}}
NETWORK.ANCHORS = [[0.5, 0.5], [1.0, 1.0]]
NETWORK.LOSS_WARMUP_STEPS = 2
NETWORK.ACTIVATION_QUANTIZER = linear_mid_tread_half
NETWORK.ACTIVATION_QUANTIZER_KWARGS = {{"bit": 2, "max_value": 2.0}}
NETWORK.WEIGHT_QUANTIZER = binary_channel_wise_mean_scaling

DATASET = SmartDict()
DATASET.AUGMENTOR = Sequence([FlipLeftRight()])
DATASET.OPTIONS = {{"image_size": IMAGE_SIZE, "num_train": 32, "num_validation": 8}}
"""


def write_tiny_detection_config(directory, name="tiny_detection.py", max_steps=6, save_steps=3, test_steps=3):
    """Writes a tiny LMFYoloQuantize config on the synthetic detection set and returns its path."""
    path = os.path.join(directory, name)
    with open(path, "w") as stream:
        stream.write(TINY_DETECTION_CONFIG.format(max_steps=max_steps, save_steps=save_steps, test_steps=test_steps))
    return path


def train_experiment(environment, config_path, experiment_id):
    """Trains (or resumes) ``config_path`` as ``experiment_id`` in process; returns ``(trainer, final metrics)``."""
    from lmnet import config as config_module, experiment
    from lmnet.training.trainer import Trainer
    config = config_module.load(config_path)
    paths = environment.experiment(experiment_id)
    experiment.prepare(config, config_path, paths, log=lambda *_: None)
    trainer = Trainer(config, paths, environment.data_dir, progress=False, log=lambda *_: None)
    return trainer, trainer.run()


def patch_output_and_data_dirs(root):
    """A ``MonkeyPatch`` pointing OUTPUT_DIR and DATA_DIR into ``root`` (call ``undo()`` when done)."""
    patch = pytest.MonkeyPatch()
    patch.setenv("OUTPUT_DIR", os.path.join(str(root), "saved"))
    patch.setenv("DATA_DIR", os.path.join(str(root), "dataset"))
    return patch


def darknet_to_network_layout(raw):
    """Per-anchor raw values written in Darknet's order ``[..., tx, ty, tw, th, to, class logits…]`` ->
    the network's flat output ``[..., A·(C + 5)]`` in upstream Blueoil's order (class logits, ``to``,
    ``tx, ty, tw, th``). ``raw`` is ``[B, gh, gw, A, 5 + C]``; tests write values in the first, familiar
    order and check the network's own layout this way, independently of :mod:`lmnet.yolo_output`."""
    raw = np.asarray(raw, np.float32)
    reordered = np.concatenate([raw[..., 5:], raw[..., 4:5], raw[..., :4]], axis=-1)
    return reordered.reshape(*raw.shape[:-2], -1)


def one_error_line(exit_code, output):
    """The single ``error: …`` line of an executor's output, asserting exit code 2 and no traceback."""
    assert exit_code == 2, output
    errors = [line for line in output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, output  # progress lines may surround it
    assert "Traceback" not in output
    return errors[0]
