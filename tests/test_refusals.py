"""What lmnet refuses, through the executors where a user meets it: one ``error:`` line, exit code 2, and
nothing outside the experiment's own folder touched (issue 12's corpus; docs/refusals.rst lists them).

Destructive cases run on a sandbox ``OUTPUT_DIR`` that holds a sibling experiment and a sentinel file,
both checked untouched afterwards.
"""
import os

import pytest
from click.testing import CliRunner

from executor import train as train_executor
from lmnet.environment import Environment, check_experiment_id
from lmnet.errors import ExperimentError
from tests.conftest import write_tiny_config


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
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.strip().splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, result.output  # progress lines on stdout may surround it
    assert "Traceback" not in result.output
    return errors[0]


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
