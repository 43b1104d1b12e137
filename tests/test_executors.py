"""The executor scripts: train → evaluate end to end, one-line errors with exit code 2, SIGKILL resume."""
import glob
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import tensorflow as tf

from executor import evaluate as evaluate_executor, train as train_executor
from tests.conftest import REPO, checkpoint_steps, committed_step, write_tiny_config, write_tiny_detection_config


def run_script(script, *args, env_dir, timeout=300):
    env = dict(os.environ, OUTPUT_DIR=os.path.join(env_dir, "saved"), DATA_DIR=os.path.join(env_dir, "dataset"),
               TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, os.path.join(REPO, "executor", script), *args], capture_output=True,
                          text=True, env=env, timeout=timeout, cwd=env_dir)


def test_train_then_evaluate_reports_the_same_metrics(tmp_path, environment):
    path = write_tiny_config(str(tmp_path), max_steps=10, save_steps=5, test_steps=10)
    trained = train_executor.run(path, "demo", progress=False)
    metrics = evaluate_executor.run("demo", progress=False)
    assert metrics == pytest.approx(trained, abs=1e-5)
    report_path = os.path.join(environment.experiment("demo").root, "evaluate", "evaluate.json")
    with open(report_path) as stream:
        report = json.load(stream)
    assert report["step"] == 10 and report["checkpoint"].endswith("save.ckpt-10")
    assert report["metrics"] == pytest.approx(metrics)
    events = glob.glob(os.path.join(environment.experiment("demo").tensorboard, "evaluate", "events.*"))
    assert events
    tags = {v.tag for e in tf.compat.v1.train.summary_iterator(events[0]) for v in e.summary.value}
    assert {"accuracy", "top5_accuracy", "loss"} <= tags
    older = evaluate_executor.run("demo", restore_path=os.path.join(environment.experiment("demo").checkpoints,
                                                                    "save.ckpt-5"), output_dir=str(tmp_path / "out"),
                                  progress=False)
    assert set(older) == set(metrics)
    assert os.path.exists(tmp_path / "out" / "evaluate.json")


@pytest.mark.parametrize("extra, message", [
    ("NETWORK.OPTIMIZER_KWARG = {}\n", "error: unknown config key 'NETWORK.OPTIMIZER_KWARG'; did you mean"),
    ("BATCH_SIZE = 2.5\n", "error: config key 'BATCH_SIZE' expects an integer of at least 1, got 2.5"),
    ("IMAGE_SIZE = [12, 12]\n", "error: IMAGE_SIZE: LmnetV1Quantize needs [height, width] divisible by 8"),
])
def test_config_errors_exit_2_with_one_line(tmp_path, extra, message):
    path = write_tiny_config(str(tmp_path), extra=extra)
    result = run_script("train.py", "-c", path, "-i", "x", env_dir=str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(message)
    assert "Traceback" not in result.stderr
    assert not os.path.exists(tmp_path / "saved" / "x")


def test_evaluate_without_experiment_exits_2(tmp_path):
    result = run_script("evaluate.py", "-i", "missing", env_dir=str(tmp_path))
    assert result.returncode == 2
    assert "has no config.yaml" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("task", ["classification", "detection"])
def test_sigkill_then_rerun_resumes_from_the_newest_checkpoint(tmp_path, task):
    if task == "classification":
        path = write_tiny_config(str(tmp_path), max_steps=60, save_steps=5, keep=2, test_steps=30, tvs=16)
    else:
        path = write_tiny_detection_config(str(tmp_path), max_steps=60, save_steps=5, test_steps=30)
    env = dict(os.environ, OUTPUT_DIR=str(tmp_path / "saved"), DATA_DIR=str(tmp_path / "dataset"))
    command = [sys.executable, os.path.join(REPO, "executor", "train.py"), "-c", path, "-i", "killed"]
    checkpoints = str(tmp_path / "saved" / "killed" / "checkpoints")
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and committed_step(checkpoints) < 15:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    # A checkpoint counts once the ``checkpoint`` state file names it; a kill between writing the index and
    # updating that file leaves a newer, uncommitted step behind, which resume must ignore.
    killed_at = committed_step(checkpoints)
    assert 15 <= killed_at < 60
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    resumed_line = [line for line in result.stdout.splitlines() if line.startswith("resuming from")]
    resumed_step = int(resumed_line[0].rsplit("step ", 1)[1].rstrip(")"))
    assert resumed_step == killed_at
    assert "final validation" in result.stdout
    assert checkpoint_steps(checkpoints) == [55, 60]
    if task == "classification":  # the only one with a train_validation_saving subset
        assert len(checkpoint_steps(os.path.join(checkpoints, "best"))) == 1
