"""lmnet.runtime: the standalone runtime gives predict.py's JSON with the TFLite, ONNX and TensorFlow engines."""
import json
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
import yaml

from tests import test_predict as helpers

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOX_TOLERANCE = 1e-3
SCORE_TOLERANCE = 1e-5


# ---------------------------------------------------------------- export folder

def export(environment, paths):
    """Exports the experiment's checkpoint with :mod:`lmnet.export`; returns the export folder."""
    from lmnet.export.exporter import export_experiment
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # TFLite calibration chatter
        result = export_experiment(paths.experiment_id, environment=environment, metric_samples=8,
                                   calibration_samples=8, log=lambda *_: None)
    return result.directory


@pytest.fixture(scope="module")
def setups(tmp_path_factory):
    """Per task: experiment, export folder, image folder and predict.py's output on it."""
    from executor import predict
    root = str(tmp_path_factory.mktemp("runtime"))
    images_dir = os.path.join(root, "images")
    helpers.write_images(images_dir)
    result = {}
    for task in ("classification", "detection"):
        environment, paths, config, network = helpers.make_experiment(os.path.join(root, task), task)
        export_dir = export(environment, paths)
        output = os.path.join(root, task, "predict")
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("OUTPUT_DIR", environment.output_dir)
            patch.setenv("DATA_DIR", environment.data_dir)
            predict.run(images_dir, output, paths.experiment_id, progress=False)
        result[task] = {"export": export_dir, "images": images_dir, "predict": output}
    return result


# ---------------------------------------------------------------- comparison

def assert_same_prediction(expected, actual, task, where):
    """Same classes and probabilities (classification), or the same boxes in any order (detection)."""
    assert len(expected) == len(actual), where
    if task == "classification":
        for want, got in zip(expected, actual):
            assert want["class"] == got["class"], where
            assert abs(want["probability"] - got["probability"]) <= SCORE_TOLERANCE, where
        return
    unmatched = list(actual)
    for want in expected:
        match = next((got for got in unmatched if got["class"] == want["class"]
                      and abs(got["score"] - want["score"]) <= SCORE_TOLERANCE
                      and np.max(np.abs(np.subtract(got["box"], want["box"]))) <= BOX_TOLERANCE), None)
        assert match is not None, f"{where}: no match for {want}"
        unmatched.remove(match)


def assert_same_results(expected, actual, task):
    """Entry by entry: same files, same predictions."""
    assert [e["file_path"] for e in expected] == [a["file_path"] for a in actual]
    for want, got in zip(expected, actual):
        assert_same_prediction(want["prediction"], got["prediction"], task, os.path.basename(want["file_path"]))


# ---------------------------------------------------------------- tests

@pytest.mark.parametrize("task", ["classification", "detection"])
@pytest.mark.parametrize("engine", ["onnx", "tflite", "tensorflow"])
def test_runtime_equals_predict(setups, task, engine):
    from lmnet.runtime import Runtime
    setup = setups[task]
    expected = helpers.all_results(setup["predict"])
    if task == "detection":
        assert sum(len(entry["prediction"]) for entry in expected) > 0
    runtime = Runtime(setup["export"], engine=engine)
    paths = [entry["file_path"] for entry in expected]
    assert_same_results(expected, runtime.predict_files(paths), task)


@pytest.mark.parametrize("task", ["classification", "detection"])
def test_cli_writes_predict_layout(setups, task, tmp_path, capsys):
    from lmnet.runtime.__main__ import main
    from lmnet.runtime.results import validate_document
    setup = setups[task]
    output = str(tmp_path / "out")
    assert main([setup["export"], setup["images"], "-o", output, "--engine", "tflite", "--no_progress"]) == 0
    expected_documents = helpers.read_documents(setup["predict"])
    documents = helpers.read_documents(output)
    assert len(documents) == len(expected_documents)  # the batch size comes from the export's config.yaml
    for want, got in zip(expected_documents, documents):
        validate_document(got)
        assert {k: v for k, v in want.items() if k not in ("results", "date")} == \
               {k: v for k, v in got.items() if k not in ("results", "date")}
        assert_same_results(want["results"], got["results"], task)
    for batch in range(len(documents)):
        npy, reference = (np.load(os.path.join(d, "npy", f"{batch}.npy")) for d in (output, setup["predict"]))
        assert npy.shape == reference.shape
    assert sorted(os.listdir(os.path.join(output, "images"))) == sorted(
        os.listdir(os.path.join(setup["predict"], "images")))
    assert "predicted 8 images" in capsys.readouterr().out


def test_runtime_imports_no_tensorflow(setups):
    script = textwrap.dedent("""
        import json, sys
        from lmnet.runtime import Runtime
        export, images = sys.argv[1], sys.argv[2:]
        counts = [len(Runtime(export, engine=engine).predict_files(images)) for engine in ("onnx", "tflite")]
        print(json.dumps({"counts": counts, "tensorflow": "tensorflow" in sys.modules,
                          "keras": "keras" in sys.modules}))
    """)
    setup = setups["detection"]
    images = [os.path.join(setup["images"], name) for name in sorted(os.listdir(setup["images"]))]
    done = subprocess.run([sys.executable, "-c", script, setup["export"], *images], capture_output=True, text=True,
                          cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"counts": [8, 8], "tensorflow": False, "keras": False}


def test_int8_tflite_model(setups):
    # The exporter's int8 model computes in int8 but takes and returns float32 (scale and zero point
    # are applied inside the model), so the runtime feeds it the same pre-processed image.
    from lmnet.runtime import Runtime
    setup = setups["classification"]
    runtime = Runtime(setup["export"], engine="tflite", model="model_int8.tflite")
    assert runtime.engine.input["dtype"] == np.float32 and runtime.engine.output["dtype"] == np.float32
    expected = helpers.all_results(setup["predict"])
    results = runtime.predict_files([entry["file_path"] for entry in expected])
    probabilities = np.array([[item["probability"] for item in got["prediction"]] for got in results])
    reference = np.array([[item["probability"] for item in want["prediction"]] for want in expected])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=0.05)
    assert np.abs(probabilities - reference).mean() < 0.05  # int8 approximates the float model


def test_format_picks_the_model_file_and_its_engine(setups, tmp_path, capsys):
    from lmnet.runtime import Runtime
    from lmnet.runtime.__main__ import main
    from lmnet.runtime.engines import TFLiteEngine
    setup = setups["classification"]
    images = [os.path.join(setup["images"], name) for name in sorted(os.listdir(setup["images"]))][:2]
    by_format = Runtime(setup["export"], export_format="tflite_int8")
    assert isinstance(by_format.engine, TFLiteEngine)
    by_engine = Runtime(setup["export"], engine="tflite", model="model_int8.tflite")
    assert by_format.predict_files(images) == by_engine.predict_files(images)
    arguments = [setup["export"], setup["images"], "-o", str(tmp_path / "out"), "--no_progress", "--no_save_images"]
    assert main(arguments + ["--format", "tflite_int8"]) == 0
    capsys.readouterr()
    assert main(arguments + ["--format", "onnx", "--engine", "onnx", "--overwrite"]) == 2
    assert capsys.readouterr().err == ("error: --format picks the engine and the model file: give either --format or "
                                       "--engine/--model, not both\n")


def test_quantize_round_trip():
    from lmnet.runtime.engines import dequantize, quantize
    detail = {"dtype": np.int8, "quantization": (0.5, -10)}
    values = np.array([-100.0, -1.0, 0.0, 0.26, 3.0, 100.0], np.float32)
    quantized = quantize(values, detail)
    assert quantized.dtype == np.int8
    np.testing.assert_array_equal(quantized, [-128, -12, -10, -9, -4, 127])
    np.testing.assert_allclose(dequantize(quantized, detail), [-59.0, -1.0, 0.0, 0.5, 3.0, 68.5])


def test_errors(setups, tmp_path, capsys):
    from lmnet.errors import ConfigError, DatasetError, ExperimentError
    from lmnet.runtime import Runtime
    from lmnet.runtime.__main__ import main
    export = setups["classification"]["export"]
    with pytest.raises(ConfigError, match="meta.yaml not found"):
        Runtime(str(tmp_path), engine="onnx")
    with pytest.raises(ConfigError, match="unknown engine"):
        Runtime(export, engine="openvino")
    with pytest.raises(ExperimentError, match="not found"):
        Runtime(export, engine="tflite", model="missing.tflite")
    runtime = Runtime(export, engine="onnx")
    empty = tmp_path / "bad.png"
    empty.write_bytes(b"")
    with pytest.raises(DatasetError, match="bad.png"):
        runtime.predict_files([str(empty)])
    assert main([export, str(tmp_path), "-o", str(tmp_path / "out"), "--no_progress"]) == 2
    capsys.readouterr()
    images = setups["classification"]["images"]
    assert main([export, images, "-o", str(tmp_path / "out"), "--no_progress", "--display_threshold", "1.5"]) == 2
    assert capsys.readouterr().err.strip() == "error: --display_threshold must be a score between 0 and 1, got 1.5"
    meta = yaml.safe_load(open(os.path.join(export, "meta.yaml")))
    broken = tmp_path / "broken"
    broken.mkdir()
    del meta["CLASSES"]
    (broken / "meta.yaml").write_text(yaml.safe_dump(meta))
    with pytest.raises(ConfigError, match="CLASSES"):
        Runtime(str(broken))


def test_meta_round_trip(setups):
    from lmnet.runtime import load_meta
    meta = load_meta(setups["detection"]["export"])
    assert meta.task == "IMAGE.OBJECT_DETECTION" and meta.image_size == (32, 32)
    assert [type(p).__name__ for p in meta.post_processor.processors] == ["FormatYoloV2", "ExcludeLowScoreBox", "NMS"]
    assert [type(p).__name__ for p in meta.pre_processor.processors] == ["ResizeWithGtBoxes", "PerImageStandardization"]


def test_cli_refuses_to_mix_results_unless_overwrite(setups, tmp_path, capsys):
    from lmnet.runtime.__main__ import main
    setup = setups["classification"]
    output = tmp_path / "out"
    arguments = [setup["export"], setup["images"], "-o", str(output), "--no_progress", "--no_save_images"]
    assert main(arguments) == 0
    (output / "json" / "41.json").write_text("stale result of an earlier, longer run")
    capsys.readouterr()
    assert main(arguments) == 2
    error = capsys.readouterr().err.strip()
    assert error == (f"error: {output} already holds results (json, npy); pass --overwrite to replace them or "
                     f"choose another output folder")
    assert main(arguments + ["--overwrite"]) == 0
    assert f"removed earlier results from {output}: json, npy" in capsys.readouterr().out
    assert "41.json" not in os.listdir(output / "json")
