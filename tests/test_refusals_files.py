"""Damaged files lmnet reads back, through the executors where a user meets them: TensorBoard event files,
checkpoints, exported models; and quantizer keywords that do not exist. Each ends in one ``error:`` line
naming the file or key, exit code 2 (docs/refusals.rst), or, for an event file of which other files
hold data, in a ``warning: skipped …`` line and the tables of what is readable.

One tiny experiment is trained (4 steps, checkpoints at 2 and 4) and exported once per module; every test
damages a copy of it in its own ``tmp_path``, in the files' real formats: truncated or overwritten bytes.
"""
import glob
import os
import shutil
import subprocess
import sys
import warnings

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from PIL import Image

from executor import evaluate as evaluate_executor, export as export_executor
from executor import output_event as output_event_executor, train as train_executor
from lmnet.runtime import __main__ as runtime_main
from tests.conftest import REPO, one_error_line, write_tiny_config

EXPERIMENT = "demo"
DATA_FILE = ".data-00000-of-00001"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """``{"root", "export"}``: a tiny experiment trained to step 4 (checkpoints 2 and 4), exported once."""
    root = tmp_path_factory.mktemp("pristine")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OUTPUT_DIR", str(root / "saved"))
        patch.setenv("DATA_DIR", str(root / "dataset"))
        config = write_tiny_config(str(root), max_steps=4, save_steps=2, test_steps=2)
        train_executor.run(config, EXPERIMENT, progress=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # TFLite calibration chatter
            result = export_executor.run(EXPERIMENT, metric_samples=4, calibration_samples=4)
    return {"root": root, "export": os.path.relpath(result.directory, root / "saved" / EXPERIMENT)}


@pytest.fixture
def experiment(pristine, tmp_path, monkeypatch):
    """A copy of the pristine experiment in ``tmp_path/saved/demo`` (``OUTPUT_DIR`` points at it)."""
    output_dir = tmp_path / "saved"
    shutil.copytree(pristine["root"] / "saved" / EXPERIMENT, output_dir / EXPERIMENT)
    monkeypatch.setenv("OUTPUT_DIR", str(output_dir))
    monkeypatch.setenv("DATA_DIR", str(pristine["root"] / "dataset"))
    return output_dir / EXPERIMENT


def _truncate(path, keep=0.5):
    data = open(path, "rb").read()
    with open(path, "wb") as stream:
        stream.write(data[:int(len(data) * keep)])


def _overwrite(path):
    """Same size, other bytes: what a disk or copy error leaves."""
    size = os.path.getsize(path)
    with open(path, "wb") as stream:
        stream.write(np.random.default_rng(0).integers(0, 256, size, dtype=np.uint8).tobytes())


def _flip_byte(path, offset):
    with open(path, "r+b") as stream:
        stream.seek(offset)
        value = stream.read(1)[0]
        stream.seek(offset)
        stream.write(bytes([value ^ 0xFF]))


def _one_error_line(result):
    """The single ``error:`` line of a click result with exit code 2 and no traceback."""
    return one_error_line(result.exit_code, result.output)


def _files(folder):
    return {path: open(path, "rb").read() for path in glob.glob(os.path.join(folder, "**"), recursive=True)
            if os.path.isfile(path)}


# ---------------------------------------------------------------- TensorBoard event files

def _event_file(experiment, subfolder):
    (path,) = glob.glob(str(experiment / "tensorboard" / subfolder / "*tfevents*"))
    return path


def _output_event(*arguments):
    return CliRunner().invoke(output_event_executor.main, ["-i", EXPERIMENT, *arguments])


def test_event_file_that_is_not_one_is_named_and_skipped(experiment):
    damaged = _event_file(experiment, "train")
    _overwrite(damaged)
    result = _output_event()
    assert result.exit_code == 0, result.output
    assert result.stderr.strip().splitlines() == [
        f"warning: skipped {damaged}: not a TensorBoard event file (no valid event record at byte 0 of "
        f"{os.path.getsize(damaged)})"]
    out = experiment / "output_event"
    assert sorted(os.listdir(out)) == ["curves.png", "validation.csv", "validation.md"]


def test_truncated_event_file_is_read_up_to_the_damage(experiment):
    damaged = _event_file(experiment, "train")
    _truncate(damaged)
    result = _output_event()
    assert result.exit_code == 0, result.output
    (warning,) = result.stderr.strip().splitlines()
    assert warning.startswith(f"warning: skipped {damaged} from byte ") and "events before it were read" in warning
    assert (experiment / "output_event" / "train.csv").read_text().startswith("step,")


def test_no_readable_event_file_is_an_error_naming_them(experiment):
    damaged = [_event_file(experiment, name) for name in ("train", "validation")]
    for path in damaged:
        _overwrite(path)
    line = _one_error_line(_output_event())
    assert line.startswith(f"error: no readable scalar summaries in the event files under {experiment / 'tensorboard'}")
    assert all(f"skipped {path}: not a TensorBoard event file" in line for path in damaged)
    assert not (experiment / "output_event").exists()


def test_record_that_is_not_an_event_is_an_error_naming_the_file(experiment):
    import tensorflow as tf
    foreign = str(experiment / "tensorboard" / "validation" / "events.out.tfevents.9999999999.other.v2")
    with tf.io.TFRecordWriter(foreign) as writer:  # valid TFRecord framing, not an Event inside
        writer.write(b"\xff\xff\xff\xff")
    line = _one_error_line(_output_event())
    assert f"{foreign}: the record at byte 0 is not a TensorBoard event" in line


# ---------------------------------------------------------------- checkpoints

def _checkpoint(experiment, step):
    return str(experiment / "checkpoints" / f"save.ckpt-{step}")


DAMAGES = {
    "index overwritten": (".index", _overwrite),
    "index truncated": (".index", _truncate),
    "data truncated": (DATA_FILE, _truncate),
    "data byte flipped": (DATA_FILE, lambda path: _flip_byte(path, 100)),
}


@pytest.mark.parametrize("damage", ["index overwritten", "data truncated"])
def test_damaged_newest_checkpoint_refuses_to_resume(experiment, tmp_path, damage):
    suffix, corrupt = DAMAGES[damage]
    newest = _checkpoint(experiment, 4)
    corrupt(newest + suffix)
    before = _files(experiment / "checkpoints")
    longer = write_tiny_config(str(tmp_path), name="longer.py", max_steps=6, save_steps=2, test_steps=2)
    result = CliRunner().invoke(train_executor.main, ["-c", longer, "-i", EXPERIMENT, "--no_progress"])
    line = _one_error_line(result)
    assert f"checkpoint {newest} is not a readable TensorFlow checkpoint: {newest}{suffix} is truncated" in line
    assert "save.ckpt-2" in line and "--recreate" in line
    assert _files(experiment / "checkpoints") == before  # nothing rotated away, nothing overwritten


def _evaluate(*arguments):
    return CliRunner().invoke(evaluate_executor.main, ["-i", EXPERIMENT, *arguments])


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_evaluate_restore_path_to_a_damaged_checkpoint(experiment, damage):
    suffix, corrupt = DAMAGES[damage]
    path = _checkpoint(experiment, 2)
    corrupt(path + suffix)
    line = _one_error_line(_evaluate("--restore_path", path))
    assert line.startswith(f"error: checkpoint {path} is not a readable TensorFlow checkpoint: {path}{suffix} is "
                           f"truncated or damaged (")


def test_evaluate_newest_checkpoint_damaged(experiment):
    newest = _checkpoint(experiment, 4)
    _overwrite(newest + DATA_FILE)
    line = _one_error_line(_evaluate())
    assert f"checkpoint {newest} is not a readable TensorFlow checkpoint: {newest}{DATA_FILE}" in line


@pytest.mark.parametrize("given, expected", [
    ("save.ckpt-9", "checkpoint {path} not found (no {path}.index); expected a checkpoint prefix"),
    ("save.ckpt-2.index", "checkpoint {path} not found: pass the checkpoint prefix {prefix}, without the suffix"),
    ("", "checkpoint {path} is a folder; expected a checkpoint prefix"),
])
def test_evaluate_restore_path_that_is_no_checkpoint(experiment, given, expected):
    path = os.path.join(experiment / "checkpoints", given)
    line = _one_error_line(_evaluate("--restore_path", path))
    assert expected.format(path=path, prefix=_checkpoint(experiment, 2)) in line


def test_evaluate_checkpoint_without_its_data_file(experiment):
    path = _checkpoint(experiment, 2)
    os.remove(path + DATA_FILE)
    line = _one_error_line(_evaluate("--restore_path", path))
    assert f"checkpoint {path} has no data file (no {path}{DATA_FILE})" in line


def test_export_shares_the_checkpoint_check(experiment):
    path = _checkpoint(experiment, 2)
    _overwrite(path + ".index")
    result = CliRunner().invoke(export_executor.main, ["-i", EXPERIMENT, "--restore_path", path])
    assert f"{path}.index is truncated or damaged" in _one_error_line(result)


# ---------------------------------------------------------------- exported models in the runtime

@pytest.fixture
def export_dir(experiment, pristine, tmp_path):
    """The copied export folder, and one image to predict in ``tmp_path/images``."""
    (tmp_path / "images").mkdir()
    Image.fromarray(np.full((16, 16, 3), 128, np.uint8)).save(tmp_path / "images" / "grey.png")
    return experiment / pristine["export"]


@pytest.mark.parametrize("engine, model, corrupt", [
    ("onnx", "model.onnx", _truncate),
    ("tflite", "model_int8.tflite", _overwrite),
    ("tensorflow", "saved_model/saved_model.pb", _overwrite),
    ("tensorflow", f"saved_model/variables/variables{DATA_FILE}", _truncate),
])
def test_runtime_refuses_a_damaged_model_file(export_dir, tmp_path, capsys, engine, model, corrupt):
    corrupt(str(export_dir / model))
    arguments = [str(export_dir), str(tmp_path / "images"), "-o", str(tmp_path / "out"), "--engine", engine]
    if engine == "tflite":
        arguments += ["--model", model]
    exit_code = runtime_main.main(arguments + ["--no_progress"])
    captured = capsys.readouterr()
    loaded = export_dir / (model if engine != "tensorflow" else "saved_model")
    line = one_error_line(exit_code, captured.out + captured.err)
    assert line.startswith(f"error: model {loaded} cannot be loaded by engine '{engine}' (")
    assert not (tmp_path / "out").exists()


def test_runtime_command_exits_2_on_a_damaged_onnx_file(export_dir, tmp_path):
    _overwrite(str(export_dir / "model.onnx"))
    command = [sys.executable, "-m", "lmnet.runtime", str(export_dir), str(tmp_path / "images"),
               "-o", str(tmp_path / "out"), "--no_progress"]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    line = one_error_line(result.returncode, result.stdout + result.stderr)
    assert line == (f"error: model {export_dir / 'model.onnx'} cannot be loaded by engine 'onnx' (Protobuf parsing "
                    f"failed.): expected an ONNX model file; export the experiment again")


# ---------------------------------------------------------------- quantizer keywords

@pytest.mark.parametrize("key, value, message", [
    ("ACTIVATION_QUANTIZER_KWARGS", {"bit": 2, "max_value": 2, "nonsense": 1},
     "config key 'NETWORK.ACTIVATION_QUANTIZER_KWARGS' has 'nonsense', which quantizer linear_mid_tread_half does "
     "not take; it accepts bit, max_value"),
    ("WEIGHT_QUANTIZER_KWARGS", {"bit": 1},
     "config key 'NETWORK.WEIGHT_QUANTIZER_KWARGS' has 'bit', which quantizer binary_channel_wise_mean_scaling "
     "does not take; it takes no keyword arguments ({})"),
])
@pytest.mark.parametrize("form", ["py", "yaml"])
def test_unknown_quantizer_keyword_is_refused_when_the_config_loads(tmp_path, monkeypatch, form, key, value,
                                                                    message):
    monkeypatch.setenv("OUTPUT_DIR", str(tmp_path / "saved"))
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "dataset"))
    if form == "py":
        path = write_tiny_config(str(tmp_path), extra=f"NETWORK.{key} = {value!r}\n")
    else:
        path = _yaml_config(tmp_path, key, value)
    result = CliRunner().invoke(train_executor.main, ["-c", path, "-i", "quantizer", "--no_progress"])
    assert _one_error_line(result) == f"error: {message}"
    assert not (tmp_path / "saved" / "quantizer").exists()


def _yaml_config(tmp_path, key, value):
    """The tiny config as the YAML train.py saves, with ``NETWORK.<key>`` replaced (written without loading it)."""
    from lmnet import config as config_module
    data = config_module.to_yaml_data(config_module.load(write_tiny_config(str(tmp_path), name="valid.py")))
    data["NETWORK"][key] = value
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_quantizer_arguments_check_names_needed_and_unknown_keywords():
    from lmnet.errors import ConfigError
    from lmnet.quantizations import Parameter, Quantizer, registered_quantizers

    class NeedsBit(Quantizer):
        name = "needs_bit"
        role = "weight"
        parameters = (Parameter("bit", "int32"), Parameter("scale", "float32", 1.0))

    key = "NETWORK.WEIGHT_QUANTIZER_KWARGS"
    with pytest.raises(ConfigError, match=r"lacks 'bit', which quantizer needs_bit needs; it accepts bit, scale"):
        NeedsBit().arguments({"scale": 2.0}, key)
    with pytest.raises(ConfigError, match=r"has 'size', which quantizer needs_bit does not take; it accepts bit"):
        NeedsBit().arguments({"bit": 2, "size": 1}, key)
    with pytest.raises(ConfigError, match=r"'NETWORK.WEIGHT_QUANTIZER_KWARGS': bit of quantizer needs_bit must be a "
                                          r"whole number, got 2.5"):
        NeedsBit().arguments({"bit": 2.5}, key)
    assert NeedsBit().arguments({"bit": 3.0}, key) == {"bit": 3, "scale": 1.0}
    assert {name: quantizer.keywords for name, quantizer in registered_quantizers().items()} == {
        "binary_mean_scaling": [], "binary_channel_wise_mean_scaling": [], "ternary": [],
        "linear_mid_tread_half": ["bit", "max_value"], "pact": ["bit", "max_value"], "lsq": ["bit", "max_value"]}
