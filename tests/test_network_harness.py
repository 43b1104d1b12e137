"""Every network through the whole path: build, train steps, checkpoint and restore, export and runtime parity.

The networks are found, not listed: every network class defined in ``lmnet.networks.classification`` and
``lmnet.networks.object_detection``, so a new network runs through this harness without an edit here.
Each trains two steps on the embedded synthetic data (a tiny classification or detection config, the
network swapped in with ``-n`` and the quantizers removed for a float network), is restored from its
checkpoint by :func:`lmnet.experiment.open_experiment` and must give the trained model's outputs, and
is exported as the frozen graph and ONNX, each run by its runtime engine against the Keras model
(``parity.json``).
"""
import importlib
import inspect
import pkgutil
import warnings

import numpy as np
import pytest

from lmnet import config as config_module, experiment
from lmnet.networks.base import BaseNetwork
from lmnet.training.trainer import Trainer
from tests.conftest import write_tiny_config, write_tiny_detection_config

PACKAGES = {"classification": "lmnet.networks.classification", "object_detection": "lmnet.networks.object_detection"}
#: How far an exported format may differ from the Keras model (a float network; a quantized one is exact
#: where no value lands on a rounding boundary, which random weights after two steps practically never do).
TOLERANCE = 1e-4


def network_modules():
    """``(module name relative to lmnet.networks, class)`` of every network class."""
    found = []
    for family, package in PACKAGES.items():
        for info in pkgutil.iter_modules(importlib.import_module(package).__path__):
            module = importlib.import_module(f"{package}.{info.name}")
            for cls in vars(module).values():
                if (inspect.isclass(cls) and issubclass(cls, BaseNetwork) and cls.__module__ == module.__name__
                        and not inspect.isabstract(cls) and info.name != "base"):
                    found.append((f"{family}.{info.name}", cls))
    return sorted(found, key=lambda item: item[0])


NETWORKS = network_modules()


def test_the_harness_finds_every_core_network():
    names = {cls.__name__ for _, cls in NETWORKS}
    assert {"LmnetV0", "LmnetV0Quantize", "LmnetV1", "LmnetV1Quantize", "VGG16", "Darknet19", "YoloV2",
            "YoloV2Quantize", "LMFYolo", "LMFYoloQuantize"} <= names


def harness_config(directory, module, cls):
    """The tiny config of the network's family with the network swapped in (2 steps, checkpoint at 2); a
    classifier at 32x32, a detector at 32x64 (not square: an export that swaps height and width fails; half the
    tiny detection config's pixels, which keeps YoloV2's 1024-channel layers cheaper)."""
    overrides = ["MAX_STEPS=2", "SAVE_CHECKPOINT_STEPS=2", "TEST_STEPS=2"]
    if module.startswith("classification"):
        path = write_tiny_config(directory)
        overrides += ["IMAGE_SIZE=[32, 32]", "DATASET.OPTIONS={image_size: [32, 32], num_train: 16, num_validation: 8}"]
    else:
        path = write_tiny_detection_config(directory)
        overrides += ["IMAGE_SIZE=[32, 64]", "DATASET.OPTIONS={image_size: [32, 64], num_train: 16, num_validation: 8}"]
    if not cls.quantized:
        overrides += ["NETWORK.ACTIVATION_QUANTIZER=null", "NETWORK.WEIGHT_QUANTIZER=null"]
    return path, config_module.load(path, network=module, overrides=overrides)


@pytest.mark.slow
@pytest.mark.parametrize("module, cls", NETWORKS, ids=[cls.__name__ for _, cls in NETWORKS])
def test_network_builds_trains_restores_and_exports(tmp_path, environment, module, cls):
    from lmnet.export.exporter import export_experiment
    path, config = harness_config(str(tmp_path), module, cls)
    assert config.NETWORK_CLASS is cls
    paths = environment.experiment("harness")
    experiment.prepare(config, path, paths, log=lambda *_: None)
    trainer = Trainer(config, paths, environment.data_dir, progress=False, log=lambda *_: None)
    results = trainer.run()
    assert trainer.step == 2 and all(np.isfinite(value) for value in results.values())

    # tf2onnx copies every constant while it converts: YoloV2Quantize's ONNX conversion alone peaked at 15.9 GB
    # (2026-12-06), and with the other test worker beside it the 24 GB CI machine killed the worker (twice in three
    # runs). The YoloV2 family exports its frozen graph here; its ONNX form is not tested until that peak comes down.
    forms = ("pb",) if cls.__name__.startswith("YoloV2") else ("pb", "onnx")
    image = np.random.default_rng(0).normal(size=(1, *config.IMAGE_SIZE, 3)).astype(np.float32)
    opened = experiment.open_experiment(environment, "harness")
    assert opened.checkpoint.endswith("save.ckpt-2")
    np.testing.assert_array_equal(opened.network.model(image, training=False).numpy(),
                                  trainer.network.model(image, training=False).numpy())

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        exported = export_experiment("harness", environment=environment, formats=",".join(forms), metric_samples=4,
                                     log=lambda *_: None)
    assert set(exported.parity["max_abs_diff"]) == set(forms)
    assert max(exported.parity["max_abs_diff"].values()) <= TOLERANCE, exported.parity
