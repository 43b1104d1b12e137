"""Detection through the trainer and evaluate.py: exact resume, mAP metrics, drawn predictions."""
import glob
import json
import os

import numpy as np
import tensorflow as tf

from executor import evaluate as evaluate_executor, train as train_executor
from lmnet.training.checkpoints import weight_map
from tests.conftest import train_experiment as train, write_tiny_detection_config


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
