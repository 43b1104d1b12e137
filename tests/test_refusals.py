"""What lmnet refuses, through the executors where a user meets it: one ``error:`` line, exit code 2, and
nothing outside the experiment's own folder touched (issue 12's corpus; docs/refusals.rst lists them).

Destructive cases run on a sandbox ``OUTPUT_DIR`` that holds a sibling experiment and a sentinel file,
both checked untouched afterwards.
"""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from executor import evaluate as evaluate_executor, predict as predict_executor, train as train_executor
from lmnet.environment import Environment, check_experiment_id
from lmnet.errors import ExperimentError
from tests.conftest import REPO, committed_step, one_error_line, write_tiny_config


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """``OUTPUT_DIR`` = ``tmp_path/outer/saved`` with a sibling experiment; a sentinel beside ``saved``."""
    outer = tmp_path / "outer"
    output_dir = outer / "saved"
    (output_dir / "sibling" / "checkpoints").mkdir(parents=True)
    (output_dir / "sibling" / "checkpoints" / "save.ckpt-1.index").write_text("weights")
    (outer / "sentinel.txt").write_text("keep me")
    monkeypatch.setenv("OUTPUT_DIR", str(output_dir))
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "dataset"))
    snapshot = _tree(outer)
    config = write_tiny_config(str(tmp_path), max_steps=2, save_steps=2, test_steps=2)
    yield {"outer": outer, "output_dir": output_dir, "config": config}
    assert (outer / "sentinel.txt").read_text() == "keep me"
    assert (output_dir / "sibling" / "checkpoints" / "save.ckpt-1.index").read_text() == "weights"
    assert {path for path in snapshot if "sibling" in path or "sentinel" in path} <= _tree(outer)


def _tree(root):
    return {os.path.relpath(os.path.join(folder, name), root) for folder, folders, files in os.walk(root)
            for name in folders + files}


def _train(*arguments):
    return CliRunner().invoke(train_executor.main, list(arguments) + ["--no_progress"])


def _one_error_line(result):
    return one_error_line(result.exit_code, result.output)


@pytest.mark.parametrize("experiment_id", ["", " ", ".", "..", "../x", "a/b", "/tmp/abs", "x\0y"])
def test_experiment_ids_that_leave_output_dir_are_refused(sandbox, experiment_id):
    before = _tree(sandbox["outer"])
    line = _one_error_line(_train("-c", sandbox["config"], "-i", experiment_id, "--recreate"))
    assert "experiment id" in line and repr(experiment_id) in line
    assert _tree(sandbox["outer"]) == before  # nothing created, nothing deleted


def test_every_executor_shares_the_id_check():
    environment = Environment(output_dir="/nowhere/saved", data_dir="/nowhere/data")
    with pytest.raises(ExperimentError, match="no '/'"):
        environment.experiment("../escape")
    assert check_experiment_id("run-1.v2_final") == "run-1.v2_final"


def test_recreate_removes_only_what_lmnet_wrote_and_says_so(sandbox):
    assert _train("-c", sandbox["config"], "-i", "demo").exit_code == 0
    root = sandbox["output_dir"] / "demo"
    (root / "export").mkdir()
    (root / "export" / "model.onnx").write_text("old export")
    (root / "notes.txt").write_text("my notes")
    (root / "my_data").mkdir()
    result = _train("-c", sandbox["config"], "-i", "demo", "--recreate")
    assert result.exit_code == 0, result.output
    removed = next(line for line in result.output.splitlines() if line.startswith("--recreate: removed"))
    for name in ("config.py", "config.yaml", "checkpoints", "tensorboard", "export"):
        assert name in removed
    kept = next(line for line in result.output.splitlines() if line.startswith("--recreate: kept"))
    assert "notes.txt" in kept and "my_data" in kept
    assert (root / "notes.txt").read_text() == "my notes" and (root / "my_data").is_dir()
    assert not (root / "export").exists() and (root / "checkpoints").is_dir()  # trained again from scratch


def _yaml_config(tmp_path, **network_overrides):
    """The tiny config written as YAML (as train.py saves it) with ``NETWORK`` keys replaced."""
    import yaml

    from lmnet import config as config_module
    data = config_module.to_yaml_data(config_module.load(write_tiny_config(str(tmp_path), max_steps=2)))
    data["NETWORK"].update(network_overrides)
    path = tmp_path / "hostile.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_yaml_config_cannot_run_a_program(sandbox, tmp_path):
    marker = tmp_path / "ran"
    path = _yaml_config(tmp_path, OPTIMIZER_CLASS="subprocess.Popen",
                        OPTIMIZER_KWARGS={"args": f"touch {marker}", "shell": True})
    line = _one_error_line(_train("-c", path, "-i", "hostile"))
    assert "'NETWORK.OPTIMIZER_CLASS'" in line and "subprocess.Popen" in line
    assert "lmnet, keras.optimizers or keras.optimizers.schedules" in line
    assert not marker.exists() and not (sandbox["output_dir"] / "hostile").exists()


def test_yaml_config_naming_a_module_does_not_import_it(sandbox, tmp_path, monkeypatch):
    marker = tmp_path / "imported"
    (tmp_path / "evil_module.py").write_text(f"open({str(marker)!r}, 'w').close()\nclass Schedule:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    path = _yaml_config(tmp_path, LEARNING_RATE_FUNC="evil_module.Schedule")
    line = _one_error_line(_train("-c", path, "-i", "hostile"))
    assert "'NETWORK.LEARNING_RATE_FUNC'" in line and "evil_module.Schedule" in line
    assert not marker.exists()


def test_python_config_class_outside_the_allow_list_is_refused(sandbox, tmp_path):
    extra = "import subprocess\nNETWORK.OPTIMIZER_CLASS = subprocess.Popen\n"
    path = write_tiny_config(str(tmp_path), name="popen.py", extra=extra)
    line = _one_error_line(_train("-c", path, "-i", "hostile"))
    assert "'NETWORK.OPTIMIZER_CLASS'" in line and "not subprocess.Popen" in line


@pytest.mark.parametrize("extra, message", [
    ("BATCH_SIZE = 0\n", "config key 'BATCH_SIZE' expects an integer of at least 1, got 0"),
    ("BATCH_SIZE = -4\n", "config key 'BATCH_SIZE' expects an integer of at least 1, got -4"),
    ("MAX_STEPS = -5\n", "config key 'MAX_STEPS' expects an integer of at least 1, got -5"),
    ("SAVE_CHECKPOINT_STEPS = 0\n", "config key 'SAVE_CHECKPOINT_STEPS' expects an integer of at least 1, got 0"),
    ("TEST_STEPS = 0\n", "config key 'TEST_STEPS' expects an integer of at least 1, got 0"),
    ("SEED = -1\n", "config key 'SEED' expects an integer of at least 0, got -1"),
])
def test_numeric_keys_out_of_range_are_refused_before_anything_is_written(sandbox, tmp_path, extra, message):
    path = write_tiny_config(str(tmp_path), name="ranged.py", extra=extra)
    assert _one_error_line(_train("-c", path, "-i", "ranged")) == f"error: {message} (int)"
    assert not (sandbox["output_dir"] / "ranged").exists()


def test_non_finite_loss_stops_training_and_keeps_the_last_good_checkpoint(sandbox, tmp_path):
    good = write_tiny_config(str(tmp_path), name="good.py", max_steps=2, save_steps=2, test_steps=2)
    assert _train("-c", good, "-i", "nan").exit_code == 0
    checkpoints = sandbox["output_dir"] / "nan" / "checkpoints"
    before = {path.name: path.read_bytes() for path in checkpoints.iterdir() if path.is_file()}
    # The learning rate may change on resume; a NaN one breaks the weights at step 3 and the loss at step 4.
    broken = write_tiny_config(str(tmp_path), name="broken.py", max_steps=6, save_steps=2, test_steps=2,
                               extra='NETWORK.LEARNING_RATE_KWARGS = {"boundaries": [10], '
                                     '"values": [float("nan"), 0.001]}\n')
    line = _one_error_line(_train("-c", broken, "-i", "nan"))
    assert "step 4: the loss is nan" in line and "save.ckpt-2" in line and "NETWORK.LEARNING_RATE_KWARGS" in line
    after = {path.name: path.read_bytes() for path in checkpoints.iterdir() if path.is_file()}
    assert after == before  # nothing of the broken steps saved; the good checkpoint intact


def test_activation_quantizer_with_zero_bits_stops_at_the_first_step(sandbox, tmp_path):
    path = write_tiny_config(str(tmp_path), max_steps=4, save_steps=1, test_steps=4,
                             extra='NETWORK.ACTIVATION_QUANTIZER_KWARGS = {"bit": 0, "max_value": 2.0}\n')
    result = _train("-c", path, "-i", "zero_bits")
    if result.exit_code == 2 and "expects" in result.output:  # refused by the config schema: also fine
        return
    line = _one_error_line(result)
    assert "step 1:" in line and ("not finite" in line or "the loss is nan" in line)
    assert not list((sandbox["output_dir"] / "zero_bits" / "checkpoints").glob("save.ckpt-*"))


@pytest.mark.parametrize("damage", ["garbage", "missing_files", "deleted"])
def test_broken_checkpoint_state_refuses_to_restart_from_zero(sandbox, tmp_path, damage):
    path = write_tiny_config(str(tmp_path), max_steps=4, save_steps=2, test_steps=4)
    assert _train("-c", path, "-i", "state").exit_code == 0
    checkpoints = sandbox["output_dir"] / "state" / "checkpoints"
    state = checkpoints / "checkpoint"
    if damage == "garbage":
        state.write_bytes(b"\x00\x01 not a checkpoint state {{{")
    elif damage == "missing_files":
        state.write_text('model_checkpoint_path: "save.ckpt-99"\n')
    else:
        state.unlink()
    before = sorted(p.name for p in checkpoints.iterdir())
    longer = write_tiny_config(str(tmp_path), name="longer.py", max_steps=8, save_steps=2, test_steps=4)
    line = _one_error_line(_train("-c", longer, "-i", "state"))
    assert str(state) in line and "save.ckpt-4" in line and "--recreate" in line
    assert sorted(p.name for p in checkpoints.iterdir()) == before  # nothing rotated away


def test_unfinished_checkpoint_write_is_removed_on_resume(sandbox, tmp_path):
    path = write_tiny_config(str(tmp_path), max_steps=2, save_steps=2, test_steps=2)
    assert _train("-c", path, "-i", "partial").exit_code == 0
    leftover = sandbox["output_dir"] / "partial" / "checkpoints" / "save.ckpt-4_temp"
    leftover.mkdir()
    (leftover / "part-00000-of-00001").write_bytes(b"half written")
    longer = write_tiny_config(str(tmp_path), name="longer.py", max_steps=4, save_steps=2, test_steps=4)
    result = _train("-c", longer, "-i", "partial")
    assert result.exit_code == 0, result.output
    assert f"removed {leftover}: an unfinished checkpoint write" in result.output
    assert not leftover.exists() and (leftover.parent / "save.ckpt-4.index").exists()


# ---------------------------------------------------------------- one run per experiment

HOLD_LOCK = """
import sys, time
from lmnet.environment import ExperimentPaths
from lmnet.experiment_lock import ExperimentLock
with ExperimentLock(ExperimentPaths(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(600)
"""


def test_second_run_on_a_locked_experiment_is_refused_and_a_stale_lock_taken_over(sandbox):
    assert _train("-c", sandbox["config"], "-i", "locked").exit_code == 0
    root = sandbox["output_dir"] / "locked"
    before = _tree(root)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(root)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        line = _one_error_line(_train("-c", sandbox["config"], "-i", "locked", "--recreate"))
        assert f"pid {holder.pid} on " in line and str(root) in line and "another run" in line
        assert _tree(root) == before  # --recreate deleted nothing while the other run holds the lock
    finally:
        holder.kill()  # SIGKILL: the lock file stays behind, naming the dead holder
        holder.wait()
    assert f"pid {holder.pid}" in (root / ".lmnet.lock").read_text()
    result = _train("-c", sandbox["config"], "-i", "locked", "--recreate")
    assert result.exit_code == 0, result.output
    assert f"left by a run that is no longer running (pid {holder.pid} on " in result.output
    assert (root / ".lmnet.lock").read_text() == ""  # released at the end of the run


# ---------------------------------------------------------------- output folders

def _evaluate(*arguments):
    return CliRunner().invoke(evaluate_executor.main, list(arguments))


def _predict(*arguments):
    return CliRunner().invoke(predict_executor.main, list(arguments))


@pytest.fixture
def trained(sandbox, tmp_path):
    """The sandbox with experiment ``demo`` trained, and a folder of two PNG images."""
    assert _train("-c", sandbox["config"], "-i", "demo").exit_code == 0
    images = tmp_path / "images"
    images.mkdir()
    for index in range(2):
        Image.fromarray(np.full((20, 24, 3), 60 * index, np.uint8)).save(images / f"{index}.png")
    return dict(sandbox, images=images)


def test_evaluate_refuses_to_mix_results_and_overwrite_removes_only_its_own(trained, tmp_path):
    out = tmp_path / "eval_out"
    assert _evaluate("-i", "demo", "-o", str(out)).exit_code == 0
    (out / "notes.txt").write_text("mine")
    line = _one_error_line(_evaluate("-i", "demo", "-o", str(out)))
    written = ("confusion_matrix.png, evaluate.json, feature_maps.png, misclassified.png, report.html, "
               "report_data.json")  # evaluate.json and the report
    assert f"{out} already holds results ({written})" in line and "--overwrite" in line
    result = _evaluate("-i", "demo", "-o", str(out), "--overwrite")
    assert result.exit_code == 0, result.output
    assert f"removed earlier results from {out}: {written}" in result.output
    assert (out / "notes.txt").read_text() == "mine" and json.loads((out / "evaluate.json").read_text())["metrics"]
    assert not [name for name in os.listdir(out) if ".tmp" in name]  # no temporary file left
    for _ in range(2):  # the experiment's own evaluate/ folder: each evaluation replaces the last
        assert _evaluate("-i", "demo").exit_code == 0


def test_predict_output_folder_rules(trained, tmp_path):
    out = tmp_path / "pred_out"
    assert _predict("-in", str(trained["images"]), "-o", str(out), "-i", "demo").exit_code == 0
    (out / "json" / "99.json").write_text("stale file of an older, longer run")
    line = _one_error_line(_predict("-in", str(trained["images"]), "-o", str(out), "-i", "demo", "--no_save_images"))
    assert f"{out} already holds results (images, json, npy)" in line
    result = _predict("-in", str(trained["images"]), "-o", str(out), "-i", "demo", "--no_save_images", "--overwrite")
    assert result.exit_code == 0, result.output
    assert sorted(os.listdir(out / "json")) == ["0.json"] and not (out / "images").exists()  # nothing stale mixed in

    foreign = tmp_path / "users_folder"
    (foreign / "json").mkdir(parents=True)
    (foreign / "json" / "labels.json").write_text("{}")
    line = _one_error_line(_predict("-in", str(trained["images"]), "-o", str(foreign), "-i", "demo", "--overwrite"))
    assert "json, which no lmnet run recorded writing there" in line
    assert (foreign / "json" / "labels.json").read_text() == "{}"

    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    line = _one_error_line(_predict("-in", str(trained["images"]), "-o", str(a_file), "-i", "demo"))
    assert f"output folder {a_file} is a file" in line and a_file.read_text() == "not a folder"


# ---------------------------------------------------------------- file-system faults

def test_output_dir_that_is_a_file_is_a_one_line_error(sandbox, tmp_path, monkeypatch):
    a_file = tmp_path / "saved_is_a_file"
    a_file.write_text("x")
    monkeypatch.setenv("OUTPUT_DIR", str(a_file))
    line = _one_error_line(_train("-c", sandbox["config"], "-i", "demo"))
    assert str(a_file) in line and "Not a directory" in line


@pytest.fixture
def small_file_system(tmp_path):
    """Mounts a real tmpfs inside ``tmp_path`` (``mount(size, read_only)``); skipped where mounting is not allowed."""
    mounted = []

    def mount(size, read_only=False):
        target = tmp_path / f"fs{len(mounted)}"
        target.mkdir()
        options = f"size={size}" + (",ro" if read_only else "")
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)], capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root in a container that allows it): {done.stderr!r}")
        mounted.append(target)
        return target

    yield mount
    for target in mounted:
        subprocess.run(["umount", "-l", str(target)], check=False)


def test_read_only_output_dir_is_a_one_line_error(sandbox, small_file_system, monkeypatch):
    read_only = small_file_system("1m", read_only=True)
    monkeypatch.setenv("OUTPUT_DIR", str(read_only / "saved"))
    line = _one_error_line(_train("-c", sandbox["config"], "-i", "demo"))
    assert str(read_only / "saved") in line and "Read-only file system" in line


def test_full_disk_is_a_one_line_error_and_leaves_no_half_file(trained, small_file_system):
    full = small_file_system("16k")
    (full / "filler").write_bytes(b"\0" * (12 * 1024))  # one 4 KiB page left: the record fits, the metrics not
    line = _one_error_line(_evaluate("-i", "demo", "-o", str(full / "out")))
    assert f"cannot write {full / 'out' / 'evaluate.json'}: No space left on device" in line
    assert os.listdir(full / "out") == [".lmnet-outputs.json"]  # no evaluate.json, whole or half, no temporary


# ---------------------------------------------------------------- killed during a checkpoint write

def _train_until_killed_inside_a_write(command, env, checkpoints, timeout=120):
    """Starts training and, once a checkpoint is committed, SIGKILLs it the moment a ``save.ckpt-N_temp`` folder
    appears; returns the leftovers."""
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + timeout
    try:
        while process.poll() is None and time.time() < deadline and committed_step(checkpoints) < 3:
            time.sleep(0.05)
        while process.poll() is None and time.time() < deadline:
            if any(name.endswith("_temp") for name in os.listdir(checkpoints)):
                break
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    return sorted(name for name in os.listdir(checkpoints) if name.endswith("_temp"))


@pytest.mark.slow
def test_run_killed_during_a_checkpoint_write_resumes_from_the_newest_complete_one(tmp_path):
    config = write_tiny_config(str(tmp_path), max_steps=300, save_steps=1, keep=2, test_steps=1000)
    env = dict(os.environ, OUTPUT_DIR=str(tmp_path / "saved"), DATA_DIR=str(tmp_path / "dataset"),
               TF_CPP_MIN_LOG_LEVEL="3")
    command = [sys.executable, os.path.join(REPO, "executor", "train.py"), "-c", config, "-i", "killed",
               "--no_progress"]
    checkpoints = str(tmp_path / "saved" / "killed" / "checkpoints")
    for _ in range(4):  # the write lasts milliseconds: the kill may land just after it
        leftovers = _train_until_killed_inside_a_write(command, env, checkpoints)
        if leftovers:
            break
    else:
        pytest.fail("four runs killed at the first sight of a save.ckpt-N_temp folder left none behind")
    committed = committed_step(checkpoints)
    resumed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    for name in leftovers:
        assert f"removed {os.path.join(checkpoints, name)}: an unfinished checkpoint write" in resumed.stdout
    assert f"resuming from {checkpoints}/save.ckpt-{committed} (step {committed})" in resumed.stdout
    assert not [name for name in os.listdir(checkpoints) if name.endswith("_temp")]
    assert committed_step(checkpoints) == 300


def test_every_tool_writes_only_entries_of_the_one_table(trained, tmp_path):
    from executor import output_event, profile_model
    from lmnet.environment import EXPERIMENT_ENTRIES
    root = trained["output_dir"] / "demo"
    assert _evaluate("-i", "demo").exit_code == 0
    assert CliRunner().invoke(output_event.main, ["-i", "demo"]).exit_code == 0
    assert CliRunner().invoke(profile_model.main, ["-i", "demo"]).exit_code == 0
    written = set(os.listdir(root)) - {".lmnet.lock"}
    assert written <= {name.format(id="demo") for name in EXPERIMENT_ENTRIES}, written
    result = _train("-c", trained["config"], "-i", "demo", "--recreate")
    assert "kept what lmnet did not write" not in result.output  # nothing of lmnet's own left behind
