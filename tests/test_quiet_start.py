"""Quiet start: no TensorFlow C++ log line in any executor's output unless asked for (``--verbose``)."""
import concurrent.futures
import os
import subprocess
import sys

import pytest

from lmnet.cli import NATIVE_LOG_LINE, TF_LOG_LEVEL, VERBOSE_FLAG as VERBOSE
from tests.conftest import REPO

#: Per executor script, arguments that start TensorFlow and then stop at a user error (exit code 2).
FAILING_ARGUMENTS = {
    "train.py": ["-c", "missing.py"],
    "evaluate.py": ["-i", "missing"],
    "export.py": ["-i", "missing"],
    "predict.py": ["-i", "missing", "-in", "images", "-o", "out"],
    "profile_model.py": ["-i", "missing"],
    "measure_latency.py": ["-i", "missing"],
    "output_event.py": ["-i", "missing"],
    "check_dataset.py": ["-c", "missing.py"],  # a config file that does not exist
    "convert_weight_from_darknet.py": ["-m", "yolov2", "--input", "missing.weights"],
}

#: Files of executor/ that are not scripts.
NOT_SCRIPTS = {"__init__.py", "__main__.py", "cli.py"}


def script_environment(tmp_path):
    """The process environment of a user who set no TensorFlow log level; lmnet imported from this checkout."""
    env = {key: value for key, value in os.environ.items() if key != TF_LOG_LEVEL}
    return dict(env, OUTPUT_DIR=str(tmp_path / "saved"), DATA_DIR=str(tmp_path / "dataset"), PYTHONPATH=REPO)


def run_script(name, arguments, tmp_path):
    """Runs ``executor/<name>``; returns ``(exit code, stdout and stderr interleaved)``."""
    command = [sys.executable, os.path.join(REPO, "executor", name), *arguments]
    result = subprocess.run(command, env=script_environment(tmp_path), cwd=str(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, timeout=300)
    return result.returncode, result.stdout


def native_lines(output):
    return [line for line in output.splitlines() if NATIVE_LOG_LINE.match(line)]


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """``{script: (exit code, output)}`` of every script run with :data:`FAILING_ARGUMENTS`, and under
    ``"--verbose"`` of output_event.py run with ``--verbose``. The runs go side by side: each start imports
    TensorFlow (seconds of CPU)."""
    tmp_path = tmp_path_factory.mktemp("quiet_start")
    scripts = sorted(name for name in os.listdir(os.path.join(REPO, "executor"))
                     if name.endswith(".py") and name not in NOT_SCRIPTS)
    assert set(scripts) <= set(FAILING_ARGUMENTS), "add the new script to FAILING_ARGUMENTS"
    runs = {name: (name, FAILING_ARGUMENTS[name]) for name in scripts}
    runs[VERBOSE] = ("output_event.py", ["-i", "missing", VERBOSE])
    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        results = pool.map(lambda run: run_script(*run, tmp_path), runs.values())
        return dict(zip(runs, results))


def test_every_script_says_only_its_own_line(outputs):
    """Every script, run as a user runs it, prints its one ``error:`` line and nothing of TensorFlow's."""
    for name, (code, output) in outputs.items():
        if name != VERBOSE:
            assert code == 2, (name, output)
            assert len(output.splitlines()) == 1 and output.startswith("error: "), (name, output)


def test_verbose_lets_tensorflow_lines_through(outputs):
    """``--verbose``: TensorFlow's start-up lines are shown (this build logs its CPU features at INFO level)."""
    code, output = outputs[VERBOSE]
    assert code == 2 and output.splitlines()[-1].startswith("error: experiment "), output
    assert native_lines(output), output


def test_native_lines_are_dropped_and_python_lines_kept(tmp_path):
    """Lines written straight to file descriptor 2 (as TensorFlow's C++ code does) are dropped; Python's stay,
    in order; a block that raises shows everything. Real writes to a real descriptor, in a child process."""
    program = """if True:
        import os, sys
        from lmnet.cli import native_log_lines_dropped
        with native_log_lines_dropped():
            os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n")
            os.write(2, b"E0000 00:00:1758131045.203198 3722035 cuda_dnn.cc:8579] Unable to register cuDNN\\n")
            print("first python line", file=sys.stderr)
            os.write(2, b"2025-09-17 14:44:05.157831: I external/local_xla/cudart_stub.cc:32] Could not find\\n")
            print("second python line", file=sys.stderr)
            os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\\n")
        print("after", file=sys.stderr)
        try:
            with native_log_lines_dropped():
                os.write(2, b"E0000 00:00:1.2 7 loader.cc:1] the reason the import failed\\n")
                raise ImportError("no")
        except ImportError:
            print("raised", file=sys.stderr)
    """
    result = subprocess.run([sys.executable, "-c", program], env=script_environment(tmp_path), capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == ["first python line", "second python line", "after",
                                          "E0000 00:00:1.2 7 loader.cc:1] the reason the import failed", "raised"]
