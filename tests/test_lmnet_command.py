"""The ``lmnet`` command (executor/cli.py) and what train.py leaves in the experiment: train.log and curves.png."""
import concurrent.futures
import importlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner
from PIL import Image

import lmnet
from executor import train as train_executor
from executor.cli import COMMANDS, main, summary
from lmnet.console_log import SEPARATOR
from tests.conftest import REPO, write_tiny_config
from tests.test_quiet_start import native_lines, script_environment

#: The two ways to train, as a user types them (``python -m executor`` is the ``lmnet`` script uninstalled).
TRAIN_COMMANDS = {
    "via_lmnet": [sys.executable, "-m", "executor", "train"],
    "via_script": [sys.executable, os.path.join(REPO, "executor", "train.py")],
}


def available_commands():
    """``{name: click command}`` of every entry of :data:`COMMANDS` (each script must exist)."""
    found = {}
    for name, target in COMMANDS.items():
        module, attribute = target.split(":")
        found[name] = getattr(importlib.import_module(module), attribute)
    return found


def test_help_lists_every_command_with_one_short_line_without_starting_tensorflow(tmp_path):
    program = ("import sys\nfrom executor.cli import main\ntry:\n    main(['--help'], prog_name='lmnet')\n"
               "except SystemExit:\n    pass\nprint('tensorflow imported:', 'tensorflow' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", program], env=script_environment(tmp_path), capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == "tensorflow imported: False"
    listed = lines[lines.index("Commands:") + 1:-1]
    assert [line.split()[0] for line in listed] == list(COMMANDS)
    for name, command in available_commands().items():
        first_line = command.help.strip().splitlines()[0]
        assert summary(COMMANDS[name]) == first_line and len(first_line) <= 60 and first_line.endswith(".")
        assert any(line.split(None, 1) == [name, first_line] for line in listed), (name, listed)
    assert "--verbose" in result.stdout and "--version" in result.stdout


def test_sub_commands_are_the_scripts_own_commands():
    for name, command in available_commands().items():
        assert main.get_command(None, name) is command
        lmnet_help = CliRunner().invoke(main, [name, "--help"], prog_name="lmnet").output
        script_help = CliRunner().invoke(command, ["--help"], prog_name=f"lmnet {name}").output
        assert lmnet_help == script_help and "--verbose" in lmnet_help


def test_version_and_unknown_command():
    assert CliRunner().invoke(main, ["--version"]).output == f"lmnet {lmnet.__version__}\n"
    result = CliRunner().invoke(main, ["--verbose", "nope"])
    assert result.exit_code == 2 and "No such command 'nope'" in result.output


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The same tiny deterministic config trained 10 steps by ``lmnet train`` and by ``executor/train.py``,
    side by side in two processes started as a user starts them (no TensorFlow log level set)."""
    root = tmp_path_factory.mktemp("lmnet_command")
    config = write_tiny_config(str(root), max_steps=10, save_steps=5, test_steps=10, extra="DETERMINISTIC = True\n")

    def train(experiment_id):
        command = TRAIN_COMMANDS[experiment_id] + ["-c", config, "-i", experiment_id]
        return subprocess.run(command, env=script_environment(root), cwd=str(root), capture_output=True, text=True,
                              timeout=300)

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        runs = dict(zip(TRAIN_COMMANDS, pool.map(train, TRAIN_COMMANDS)))
    for result in runs.values():
        assert result.returncode == 0, result.stderr
    return {"root": root, "config": config, "runs": runs}


def checkpoint_values(path):
    reader = tf.train.load_checkpoint(path)
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


def test_lmnet_train_and_the_script_make_the_same_experiment(trained):
    saved = trained["root"] / "saved"
    assert (saved / "via_lmnet" / "config.yaml").read_text() == (saved / "via_script" / "config.yaml").read_text()
    by_lmnet = checkpoint_values(str(saved / "via_lmnet" / "checkpoints" / "save.ckpt-10"))
    by_script = checkpoint_values(str(saved / "via_script" / "checkpoints" / "save.ckpt-10"))
    assert by_lmnet.keys() == by_script.keys() and any("kernel" in name for name in by_lmnet)
    for name in by_lmnet:
        np.testing.assert_array_equal(by_lmnet[name], by_script[name], err_msg=name)
    for result in trained["runs"].values():
        assert result.stdout.startswith("step 10: validation "), result.stdout  # lmnet's line comes first
        assert not native_lines(result.stdout + result.stderr), result.stderr
        assert "train:" in result.stderr  # the progress bars were drawn (on stderr)


def log_runs(path):
    """The runs of a train.log: ``[(separator line, [lines])]``."""
    runs = []
    for line in open(path, encoding="utf-8").read().splitlines():
        if line.startswith(SEPARATOR + " "):
            runs.append((line, []))
        else:
            runs[-1][1].append(line)
    return runs


def test_train_log_holds_each_runs_console_lines(trained, tmp_path, monkeypatch):
    shutil.copytree(trained["root"] / "saved" / "via_lmnet", tmp_path / "saved" / "via_lmnet")
    monkeypatch.setenv("OUTPUT_DIR", str(tmp_path / "saved"))
    monkeypatch.setenv("DATA_DIR", str(trained["root"] / "dataset"))
    log = tmp_path / "saved" / "via_lmnet" / "train.log"
    resumed = CliRunner().invoke(train_executor.main, ["-c", trained["config"], "-i", "via_lmnet",
                                                       "--set", "MAX_STEPS=15"])
    assert resumed.exit_code == 0, resumed.output
    (first_separator, first), (_, second) = log_runs(log)
    date = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d"
    assert re.fullmatch(rf"{SEPARATOR} {date} in {re.escape(str(trained['root']))}: .*executor/__main__\.py train "
                        rf"-c {re.escape(trained['config'])} -i via_lmnet", first_separator), first_separator
    assert first == trained["runs"]["via_lmnet"].stdout.splitlines()  # every console line, no progress bar
    assert second == resumed.stdout.splitlines()
    assert second[0].startswith("resuming from ") and second[1].startswith("step 15: validation ")

    broken = "DATASET.OPTIONS={image_size: [16, 16], num_train: 0, num_validation: 8}"  # refused after --recreate
    recreated = CliRunner().invoke(train_executor.main, ["-c", trained["config"], "-i", "via_lmnet", "--recreate",
                                                         "--set", broken])
    assert recreated.exit_code == 2
    assert recreated.stdout.startswith("--recreate: removed from ") and "train.log" in recreated.stdout
    [(_, fresh)] = log_runs(log)
    assert fresh == ["error: SyntheticShapes: the train subset has no samples (DATASET.OPTIONS has num_train=0); "
                     "every subset needs at least one"]


def test_train_writes_the_training_curves(trained):
    path = trained["root"] / "saved" / "via_script" / "curves.png"
    assert f"training curves written to {path}" in trained["runs"]["via_script"].stdout
    with open(path, "rb") as stream:
        assert stream.read(8) == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as image:
        image.verify()
