"""measure_latency: exact statistics on fixed timings and a fake clock; real runs on the Keras model and exports."""
import json
import math
import os
import shutil
import warnings

import pytest
from click.testing import CliRunner

from executor import measure_latency as executor
from lmnet import latency
from tests import test_predict as helpers

STATS_KEYS = {"runs", "total_ms", "mean_ms", "std_ms", "median_ms", "min_ms", "max_ms", "fps", "fps_min", "fps_max"}
REPORT_KEYS = {"engine", "network", "task", "experiment_id", "source", "image_size", "batch_size", "step_size",
               "warmup_runs", "threads", "cpu_only", "devices", "host", "raw_image", "std", "date", "overall",
               "network_only"}


# ---------------------------------------------------------------- pure parts

def test_latency_stats_exact():
    stats = latency.latency_stats([0.001, 0.002, 0.003, 0.006])
    assert stats["runs"] == 4
    assert stats["total_ms"] == pytest.approx(12.0)
    assert stats["mean_ms"] == pytest.approx(3.0)
    # population: sqrt(((1-3)^2 + (2-3)^2 + 0 + (6-3)^2) / 4) = sqrt(14 / 4)
    assert stats["std_ms"] == pytest.approx(math.sqrt(3.5))
    assert stats["median_ms"] == pytest.approx(2.5)
    assert (stats["min_ms"], stats["max_ms"]) == (pytest.approx(1.0), pytest.approx(6.0))
    assert stats["fps"] == pytest.approx(1000 / 3)
    assert (stats["fps_min"], stats["fps_max"]) == (pytest.approx(1000 / 6), pytest.approx(1000.0))
    assert set(stats) == STATS_KEYS


def test_latency_stats_one_run_and_none():
    stats = latency.latency_stats([0.004])
    assert stats["std_ms"] == 0.0 and stats["mean_ms"] == pytest.approx(4.0) and stats["fps"] == pytest.approx(250)
    with pytest.raises(ValueError):
        latency.latency_stats([])


def test_measure_warms_up_untimed_then_times_each_run_with_the_clock():
    ticks = iter([10.0, 10.5, 11.0, 11.25, 20.0, 20.125])
    calls = []
    durations = latency.measure(lambda: calls.append(1), runs=3, warmup=2, clock=lambda: next(ticks))
    assert durations == [0.5, 0.25, 0.125]
    assert len(calls) == 5
    stats = latency.latency_stats(durations)
    assert stats["total_ms"] == 875.0 and stats["min_ms"] == 125.0 and stats["max_ms"] == 500.0


def test_format_report_lists_both_sections():
    stats = latency.latency_stats([0.001, 0.003])
    report = {"step_size": 2, "warmup_runs": 5, "network": "Net", "engine": "onnx", "source": "x",
              "image_size": [32, 32], "threads": 2, "devices": ["CPU"], "overall": stats, "network_only": stats}
    text = latency.format_report(report)
    assert text.count("total time: 4.0000 msec") == 2
    assert "mean (SD=population standard deviation): 2.0000 (SD=1.0000) msec, min: 1.0000 msec, max: 3.0000" in text
    assert "1000 / mean latency: 500.0000" in text and "devices: ['CPU']" in text and "image size: [32, 32]" in text


# ---------------------------------------------------------------- real runs

@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A tiny classification experiment (random weights, one checkpoint) and its export folder."""
    from lmnet.export.exporter import export_experiment
    root = str(tmp_path_factory.mktemp("latency"))
    environment, paths, config, _ = helpers.make_experiment(root, "classification")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        result = export_experiment(paths.experiment_id, environment=environment, metric_samples=4,
                                   calibration_samples=4, log=lambda *_: None)
    return environment, paths, config, result.directory


def check_report(report, path, engine, steps=3):
    """Both sections present and consistent, the JSON on disk equal to the report."""
    assert set(report) == REPORT_KEYS
    assert report["engine"] == engine and report["network"] == "LmnetV1Quantize"
    assert report["image_size"] == [16, 16] and report["batch_size"] == 1 and report["step_size"] == steps
    assert report["devices"] and report["std"] == "population"
    for key in ("overall", "network_only"):
        stats = report[key]
        assert set(stats) == STATS_KEYS and stats["runs"] == steps
        assert 0 < stats["min_ms"] <= stats["mean_ms"] <= stats["max_ms"]
        assert stats["fps"] == pytest.approx(1000 / stats["mean_ms"])
        assert stats["total_ms"] == pytest.approx(stats["mean_ms"] * steps)
    with open(path) as stream:
        assert json.load(stream) == report


def test_keras_engine(exported):
    environment, paths, _, _ = exported
    lines = []
    report, path = executor.run(experiment_id=paths.experiment_id, step_size=3, environment=environment,
                                log=lines.append)
    assert path == os.path.join(paths.root, "measure_latency.json")
    check_report(report, path, "keras")
    assert report["source"].endswith("save.ckpt-7")
    text = "\n".join(lines)
    assert "* overall" in text and "* network only" in text and "image size: [16, 16]" in text


@pytest.mark.parametrize("engine", ["tflite_float", "tflite_int8", "onnx", "saved_model"])
def test_export_engines(exported, engine, tmp_path):
    environment, paths, _, export_dir = exported
    output = str(tmp_path / f"{engine}.json")
    report, path = executor.run(experiment_id=paths.experiment_id, step_size=3, engine=engine, threads=1,
                                output=output, environment=environment, log=lambda *_: None)
    assert path == output and report["source"] == export_dir
    check_report(report, path, engine)
    if engine != "saved_model":
        assert report["threads"] == 1


def test_cli_errors_exit_2(exported, tmp_path, monkeypatch):
    environment, paths, _, export_dir = exported
    monkeypatch.setenv("OUTPUT_DIR", environment.output_dir)
    monkeypatch.setenv("DATA_DIR", environment.data_dir)
    runner = CliRunner()
    cases = [
        (["-i", paths.experiment_id, "--engine", "onnx", "--image_size", "32", "32"], "no export at 32x32"),
        (["--engine", "onnx", "--export_dir", export_dir, "--image_size", "32", "32", "-n", "1"],
         "--image_size 32 32 differs from the export's 16x16"),
        (["-c", os.path.join(paths.root, "config.yaml"), "--engine", "tflite_float"], "pass --export_dir or -i"),
        (["-i", "missing"], "not found"),
        ([], "give an experiment (-i)"),
    ]
    for args, message in cases:
        result = runner.invoke(executor.main, args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output and result.output.startswith("error: "), (args, result.output)


@pytest.mark.parametrize("old_name", ["savedmodel", "tflite", "tensorflow", "pb"])
def test_engine_choices_are_keras_and_the_runtime_formats(old_name):
    """The old second names are gone; ``pb`` (no runtime engine reads it) is not offered."""
    result = CliRunner().invoke(executor.main, ["--engine", old_name])
    assert result.exit_code == 2 and "Invalid value for '--engine'" in result.output
    for name in latency.ENGINES:
        assert name in result.output


def test_missing_model_of_a_partial_export_is_one_line(exported, tmp_path):
    environment, paths, _, export_dir = exported
    partial = tmp_path / "partial"
    shutil.copytree(export_dir, partial, ignore=shutil.ignore_patterns("model_int8.tflite"))
    result = CliRunner().invoke(executor.main, ["--engine", "tflite_int8", "--export_dir", str(partial), "-n", "1"])
    assert result.exit_code == 2
    assert result.output == (f"error: model {partial / 'model_int8.tflite'} not found for engine 'tflite'; "
                             f"export it with executor/export.py (format 'tflite_int8')\n")


def test_config_alone_at_another_size(exported, tmp_path):
    environment, paths, _, _ = exported
    output = str(tmp_path / "config.json")
    report, _ = executor.run(config_file=os.path.join(paths.root, "config.yaml"), image_size=(32, 32), step_size=2,
                             output=output, environment=environment, log=lambda *_: None)
    assert report["image_size"] == [32, 32] and report["source"].startswith("untrained")
    assert report["overall"]["runs"] == report["network_only"]["runs"] == 2
