"""DETERMINISTIC = True: three SIGKILLs and resumes end bitwise equal to an uninterrupted run."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import REPO, committed_step, write_tiny_config

MAX_STEPS = 240
DETERMINISTIC = "DETERMINISTIC = True\nSAVE_CHECKPOINT_STEPS = 7\nTEST_STEPS = 1000\n"


def checkpoint_values(path):
    """``{name: array}`` of every tensor in checkpoint ``path`` (weights, optimizer slots, step, best score)."""
    reader = tf.train.load_checkpoint(path)
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


def train_command(config_path, experiment_id):
    return [sys.executable, os.path.join(REPO, "executor", "train.py"), "-c", config_path, "-i", experiment_id,
            "--no_progress"]


def kill_after_checkpoint(command, env, checkpoints, at_least):
    """Starts training, waits until a checkpoint at step >= ``at_least`` is committed, kills it; returns that step."""
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 240
        while time.time() < deadline and committed_step(checkpoints) < at_least and process.poll() is None:
            time.sleep(0.01)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    return committed_step(checkpoints)


@pytest.mark.slow
def test_three_sigkills_and_resumes_end_bitwise_equal_to_an_uninterrupted_run(tmp_path):
    config_path = write_tiny_config(str(tmp_path), max_steps=MAX_STEPS, extra=DETERMINISTIC)
    env = dict(os.environ, OUTPUT_DIR=str(tmp_path / "saved"), DATA_DIR=str(tmp_path / "dataset"),
               TF_CPP_MIN_LOG_LEVEL="3")
    straight = subprocess.run(train_command(config_path, "straight"), env=env, capture_output=True, text=True,
                              timeout=300)
    assert straight.returncode == 0, straight.stderr

    checkpoints = str(tmp_path / "saved" / "killed" / "checkpoints")
    command = train_command(config_path, "killed")
    killed_at = [kill_after_checkpoint(command, env, checkpoints, at_least) for at_least in (30, 100, 170)]
    assert killed_at == sorted(set(killed_at)) and 30 <= killed_at[0] and killed_at[-1] < MAX_STEPS, killed_at
    resumed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming from {checkpoints}/save.ckpt-{killed_at[-1]} (step {killed_at[-1]})" in resumed.stdout

    expected = checkpoint_values(str(tmp_path / "saved" / "straight" / "checkpoints" / f"save.ckpt-{MAX_STEPS}"))
    actual = checkpoint_values(os.path.join(checkpoints, f"save.ckpt-{MAX_STEPS}"))
    assert expected.keys() == actual.keys()
    assert any("kernel" in name for name in expected) and any("seed_generator" in name for name in expected)
    for name in expected:
        np.testing.assert_array_equal(actual[name], expected[name], err_msg=name)
