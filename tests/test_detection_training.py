"""Detection through the trainer and evaluate.py: exact resume, mAP metrics, drawn predictions."""
import glob
import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from executor import evaluate as evaluate_executor, train as train_executor
from lmnet import config as config_module, experiment
from lmnet.checkpoint_io import weight_map
from lmnet.training.trainer import Trainer
from tests.conftest import REPO, train_experiment as train, write_tiny_detection_config


def test_detection_resume_is_bitwise_exact(tmp_path, environment):
    straight, _ = train(environment, write_tiny_detection_config(str(tmp_path), "a.py", max_steps=6), "straight")
    train(environment, write_tiny_detection_config(str(tmp_path), "b.py", max_steps=3), "resumed")
    resumed, results = train(environment, write_tiny_detection_config(str(tmp_path), "b.py", max_steps=6), "resumed")
    assert resumed.step == 6
    expected = {k: v.numpy() for k, v in weight_map(straight.network.model).items()}
    for name, variable in weight_map(resumed.network.model).items():
        np.testing.assert_array_equal(variable.numpy(), expected[name], err_msg=name)
    assert {"loss", "mAP@0.5", "mAP@0.75", "mAP@0.5_voc07", "coco/AP"} <= set(results)


def test_detection_train_then_evaluate_writes_map_and_drawings(tmp_path, environment):
    path = write_tiny_detection_config(str(tmp_path), max_steps=3, save_steps=3, test_steps=3)
    trained = train_executor.run(path, "det", progress=False)
    metrics = evaluate_executor.run("det", progress=False)
    assert abs(metrics["mAP@0.5"] - trained["mAP@0.5"]) < 1e-9
    paths = environment.experiment("det")
    with open(os.path.join(paths.root, "evaluate", "evaluate.json")) as stream:
        report = json.load(stream)
    assert set(report["per_class_ap"]) == {"circle", "square", "triangle", "star"}
    events = glob.glob(os.path.join(paths.tensorboard, "validation", "events.*"))
    tags = {value.tag for e in tf.compat.v1.train.summary_iterator(events[0]) for value in e.summary.value}
    assert {"mAP@0.5", "predictions"} <= tags


def shrunk_copy(example, directory, **keys):
    """A copy of an example config with ``keys`` (Python source) appended and a tiny dataset.

    The copy goes to ``directory/example/`` beside a copy of ``configs/common/``, so that its ``BASE`` paths
    resolve as in the repository (stage 2's base is then the shrunk copy of stage 1 when that was made first).
    """
    with open(os.path.join(REPO, "configs", "example", example)) as stream:
        text = stream.read()
    text += "\nDATASET.OPTIONS = {'image_size': IMAGE_SIZE, 'num_train': 16, 'num_validation': 4}\n"
    text += "".join(f"{key} = {value}\n" for key, value in keys.items())
    if not os.path.isdir(os.path.join(directory, "common")):
        shutil.copytree(os.path.join(REPO, "configs", "common"), os.path.join(directory, "common"))
    os.makedirs(os.path.join(directory, "example"), exist_ok=True)
    path = os.path.join(directory, "example", example)
    with open(path, "w") as stream:
        stream.write(text)
    return path


EXAMPLE_STAGES = [
    pytest.param("object_detection_float.py", "object_detection.py", "detection_demo_float", id="LMFYolo"),
    pytest.param("object_detection_tiny_float.py", "object_detection_tiny.py", "detection_tiny_float",
                 id="LMTinyYolo (README demo)"),
]


@pytest.mark.parametrize("float_example, quantized_example, float_id", EXAMPLE_STAGES)
def test_example_stages_start_the_quantized_detector_from_the_float_one(
        tmp_path, environment, float_example, quantized_example, float_id):
    """The two-stage examples (the README's demo among them): stage 2 restores every variable of stage 1's last
    checkpoint, found by its id (its weight average when stage 1 keeps one)."""
    stage1 = config_module.load(os.path.join(REPO, "configs", "example", float_example))
    stage2 = config_module.load(os.path.join(REPO, "configs", "example", quantized_example))
    assert stage2.IS_PRETRAIN and not stage2.PRETRAIN_VARS
    assert stage2.PRETRAIN_DIR == environment.experiment(float_id).checkpoints
    assert stage2.PRETRAIN_FILE == f"save.ckpt-{stage1.MAX_STEPS}"
    assert stage1.MAX_STEPS % stage1.SAVE_CHECKPOINT_STEPS == 0

    shrunk = {"MAX_STEPS": 2, "SAVE_CHECKPOINT_STEPS": 2, "TEST_STEPS": 2, "JIT_COMPILE": False}
    if float_example != "object_detection_float.py":
        shrunk_copy("object_detection_float.py", str(tmp_path))  # stage 1's BASE
    float_trainer, _ = train(environment, shrunk_copy(float_example, str(tmp_path), **shrunk), float_id)
    path = shrunk_copy(quantized_example, str(tmp_path), PRETRAIN_FILE="'save.ckpt-2'", JIT_COMPILE=False)
    config = config_module.load(path)
    paths = environment.experiment("quantized")
    experiment.prepare(config, path, paths, log=lambda *_: None)
    quantized = Trainer(config, paths, environment.data_dir, progress=False, log=lambda *_: None)
    quantized.restore()
    expected = {k: v.numpy() for k, v in weight_map(float_trainer.network.model).items()}
    if float_trainer.weight_average is not None:
        expected.update({k: v.numpy() for k, v in float_trainer.weight_average.averages.items()})
    restored = weight_map(quantized.network.model)
    assert set(restored) == set(expected)
    for name, variable in restored.items():
        np.testing.assert_array_equal(variable.numpy(), expected[name], err_msg=name)
