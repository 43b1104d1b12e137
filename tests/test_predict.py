"""executor/predict.py: outputs per ARCHITECTURE §8, odd image files, unreadable files, options.

The helpers at the top (a tiny experiment with random weights and a checkpoint, a folder of test
images) are shared with tests/test_runtime.py.
"""
import json
import os

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from tests.conftest import write_tiny_config, write_tiny_detection_config

LAST_LAYER_SCALE = 0.1
DETECTION_EXTRA = """
NETWORK.SCORE_THRESHOLD = 0.2
NETWORK.NMS_MAX_OUTPUT_SIZE = 5
"""


# ---------------------------------------------------------------- shared helpers

def randomize_weights(model, seed=1):
    """Gives ``model`` random weights (positive variances) so that its outputs are not trivial.

    The last layer with weights gets smaller ones, so that detection boxes keep plausible sizes.
    """
    rng = np.random.default_rng(seed)
    last = [layer for layer in model.layers if layer.weights][-1]
    last_paths = {variable.path for variable in last.weights}
    values = []
    for variable in model.weights:
        if "variance" in variable.path:
            values.append(rng.uniform(0.5, 1.5, variable.shape).astype(np.float32))
        else:
            scale = LAST_LAYER_SCALE if variable.path in last_paths else 0.3
            values.append((rng.normal(size=variable.shape) * scale).astype(np.float32))
    model.set_weights(values)


def write_config(directory, task):
    """A tiny config module: classification 16x16, or detection 32x32 with few confident boxes."""
    os.makedirs(directory, exist_ok=True)
    if task == "classification":
        return write_tiny_config(directory)
    path = write_tiny_detection_config(directory)
    with open(path) as stream:
        text = stream.read().replace("IMAGE_SIZE = [64, 64]", "IMAGE_SIZE = [32, 32]")
    with open(path, "w") as stream:
        stream.write(text + DETECTION_EXTRA)
    return path


def make_experiment(root, task, experiment_id=None):
    """Creates ``<root>/saved/<id>`` with config.yaml and a checkpoint of random weights.

    Returns:
        ``(environment, paths, config, network)``.
    """
    import tensorflow as tf

    from lmnet import builders
    from lmnet import config as config_module
    from lmnet.environment import Environment
    from lmnet.checkpoint_io import CHECKPOINT_NAME, weight_map
    environment = Environment(output_dir=os.path.join(root, "saved"), data_dir=os.path.join(root, "dataset"))
    paths = environment.experiment(experiment_id or task)
    source = write_config(root, task)
    config = config_module.load(source)
    config_module.save_experiment_config(config, source, paths)
    network = builders.build_network(config, list(config.CLASSES))
    randomize_weights(network.model)
    checkpoint = tf.train.Checkpoint(weights=weight_map(network.model))
    tf.train.CheckpointManager(checkpoint, paths.checkpoints, max_to_keep=2,
                               checkpoint_name=CHECKPOINT_NAME).save(checkpoint_number=7)
    return environment, paths, config, network


def write_images(directory, seed=0):
    """Writes images of several sizes and modes; returns their names (sorted).

    Includes grayscale, RGBA, palette, 16-bit grayscale, CMYK JPEG and a JPEG whose EXIF
    orientation (6: rotate 90°) turns its stored 40x24 pixels into an upright 24 wide x 40 high image.
    """
    os.makedirs(directory, exist_ok=True)
    rng = np.random.default_rng(seed)

    def rgb(height, width):
        return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))

    rgb(20, 30).save(os.path.join(directory, "a_rgb.png"))
    rgb(50, 17).save(os.path.join(directory, "b_rgb.jpg"), quality=95)
    rgb(16, 16).convert("L").save(os.path.join(directory, "c_gray.png"))
    rgb(33, 21).convert("RGBA").save(os.path.join(directory, "d_rgba.png"))
    rgb(25, 25).convert("P").save(os.path.join(directory, "e_palette.png"))
    rgb(30, 40).convert("CMYK").save(os.path.join(directory, "f_cmyk.jpg"))
    exif = Image.Exif()
    exif[0x0112] = 6
    rgb(24, 40).save(os.path.join(directory, "g_exif.jpg"), exif=exif.tobytes(), quality=95)
    gray16 = (rng.integers(0, 65536, (18, 22))).astype(np.uint16)
    Image.fromarray(gray16).save(os.path.join(directory, "h_gray16.png"))
    return sorted(os.listdir(directory))


def read_documents(output_dir):
    """The JSON documents of ``output_dir/json`` in batch order."""
    names = sorted(os.listdir(os.path.join(output_dir, "json")), key=lambda name: int(name.split(".")[0]))
    documents = []
    for name in names:
        with open(os.path.join(output_dir, "json", name)) as stream:
            documents.append(json.load(stream))
    return documents


def all_results(output_dir):
    """Every ``results`` entry of ``output_dir``, in order."""
    return [entry for document in read_documents(output_dir) for entry in document["results"]]


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def experiments(tmp_path_factory):
    """A classification and a detection experiment with random-weight checkpoints."""
    root = str(tmp_path_factory.mktemp("predict"))
    return {task: make_experiment(os.path.join(root, task), task) for task in ("classification", "detection")}


@pytest.fixture(scope="module")
def images_dir(tmp_path_factory):
    """A folder of images of several sizes and modes."""
    directory = str(tmp_path_factory.mktemp("images"))
    write_images(directory)
    return directory


def run_predict(experiment, input_dir, output_dir, monkeypatch, **kwargs):
    """Runs ``executor.predict.run`` on one of the ``experiments``."""
    from executor import predict
    environment, paths, _, _ = experiment
    monkeypatch.setenv("OUTPUT_DIR", environment.output_dir)
    monkeypatch.setenv("DATA_DIR", environment.data_dir)
    return predict.run(input_dir, output_dir, paths.experiment_id, progress=False, **kwargs)


# ---------------------------------------------------------------- tests

def test_classification_outputs(experiments, images_dir, tmp_path, monkeypatch):
    from lmnet.predict import CLASSIFICATION_SCHEMA, RESULT_SCHEMA, validate_document
    from lmnet.runtime.inference import preprocess
    from lmnet.image_io import load_image
    _, _, config, network = experiments["classification"]
    output = str(tmp_path / "out")
    summary = run_predict(experiments["classification"], images_dir, output, monkeypatch)
    names = sorted(os.listdir(images_dir))
    assert summary.num_images == len(names) and summary.num_batches == 1 and not summary.skipped
    document, = read_documents(output)
    validate_document(document)
    validate_document(document, CLASSIFICATION_SCHEMA)
    assert RESULT_SCHEMA["oneOf"][0] is CLASSIFICATION_SCHEMA
    assert document["task"] == "IMAGE.CLASSIFICATION"
    assert document["classes"] == [{"id": i, "name": name} for i, name in enumerate(config.CLASSES)]
    assert [os.path.basename(entry["file_path"]) for entry in document["results"]] == names
    npy = np.load(os.path.join(output, "npy", "0.npy"))
    assert npy.shape == (len(names), len(config.CLASSES))
    batch = np.stack([preprocess(load_image(os.path.join(images_dir, name)), config.PRE_PROCESSOR, (16, 16))
                      for name in names])
    np.testing.assert_allclose(npy, network.model(batch, training=False).numpy(), atol=1e-6)
    for entry, probabilities in zip(document["results"], npy):
        assert [item["class"]["id"] for item in entry["prediction"]] == list(range(len(config.CLASSES)))
        np.testing.assert_allclose([item["probability"] for item in entry["prediction"]], probabilities, atol=1e-7)
        assert sum(item["probability"] for item in entry["prediction"]) == pytest.approx(1, abs=1e-5)
    drawn = sorted(os.path.splitext(name)[0] + ".png" for name in names)
    assert sorted(os.listdir(os.path.join(output, "images"))) == drawn


def test_detection_boxes_in_raw_image_pixels(experiments, images_dir, tmp_path, monkeypatch):
    from lmnet.image_io import load_image
    from lmnet.predict import DETECTION_SCHEMA, validate_document
    _, _, config, _ = experiments["detection"]
    output = str(tmp_path / "out")
    summary = run_predict(experiments["detection"], images_dir, output, monkeypatch)
    names = sorted(os.listdir(images_dir))
    assert summary.num_batches == 2  # BATCH_SIZE 4, 8 images
    documents = read_documents(output)
    total = 0
    for batch_index, document in enumerate(documents):
        validate_document(document, DETECTION_SCHEMA)
        npy = np.load(os.path.join(output, "npy", f"{batch_index}.npy"))
        assert npy.ndim == 3 and npy.shape[2] == 6 and npy.shape[0] == len(document["results"])
        for entry, rows in zip(document["results"], npy):
            height, width = load_image(entry["file_path"]).shape[:2]
            rows = rows[rows[:, 4] >= 0]
            assert len(entry["prediction"]) == len(rows)
            scale = np.array([width / 32, height / 32, width / 32, height / 32])
            for item, row in zip(entry["prediction"], rows):
                np.testing.assert_allclose(item["box"], row[:4] * scale, rtol=1e-6, atol=1e-4)
                assert item["class"] == {"id": int(row[4]), "name": config.CLASSES[int(row[4])]}
                assert item["score"] == pytest.approx(float(row[5]))
            total += len(rows)
    assert total > 0
    assert [os.path.basename(e["file_path"]) for d in documents for e in d["results"]] == names
    exif = Image.open(os.path.join(output, "images", "g_exif.png"))
    assert exif.height > exif.width and exif.width % 24 == 0 and exif.height % 40 == 0  # drawn upright


def test_class_activation_maps_beside_the_drawn_images(experiments, images_dir, tmp_path, monkeypatch):
    output = str(tmp_path / "out")
    run_predict(experiments["classification"], images_dir, output, monkeypatch, cam=True)
    names = sorted(os.listdir(os.path.join(output, "images")))
    assert sorted(os.listdir(os.path.join(output, "cam"))) == names
    for name in names:
        drawn, cam = (np.asarray(Image.open(os.path.join(output, folder, name))) for folder in ("images", "cam"))
        assert cam.shape == drawn.shape and cam.dtype == np.uint8
        assert np.abs(cam.astype(int) - drawn).mean() > 10  # the map is blended over the image
    from executor.predict import main
    environment, paths, _, _ = experiments["detection"]
    result = CliRunner().invoke(main, ["-in", images_dir, "-o", str(tmp_path / "detection"), "-i", paths.experiment_id,
                                       "--cam"], env={"OUTPUT_DIR": environment.output_dir})
    assert result.exit_code == 2
    assert "error: --cam draws class activation maps of classifiers; this experiment is a detector" in result.output


def test_unreadable_files_are_skipped_and_named(experiments, tmp_path, monkeypatch, capsys):
    directory = str(tmp_path / "mixed")
    write_images(directory)
    with open(os.path.join(directory, "bad_corrupt.jpg"), "wb") as stream:
        stream.write(b"\xff\xd8\xff\xe0 this is not really a jpeg" * 3)
    open(os.path.join(directory, "bad_empty.png"), "wb").close()
    with open(os.path.join(directory, "notes.txt"), "w") as stream:
        stream.write("not an image")
    os.makedirs(os.path.join(directory, "subfolder"))
    output = str(tmp_path / "out")
    summary = run_predict(experiments["classification"], directory, output, monkeypatch, save_images=False)
    captured = capsys.readouterr()
    for name in ("bad_corrupt.jpg", "bad_empty.png", "notes.txt"):
        assert name in captured.err
    assert "8 images" in captured.out and "3 unreadable files skipped" in captured.out
    assert summary.num_images == 8 and len(summary.skipped) == 3
    results = all_results(output)
    assert len(results) == 8 and not any("bad" in entry["file_path"] for entry in results)
    assert not os.path.exists(os.path.join(output, "images"))


def test_cli_options_and_errors(experiments, images_dir, tmp_path, monkeypatch):
    from executor.predict import main
    environment, paths, _, _ = experiments["classification"]
    monkeypatch.setenv("OUTPUT_DIR", environment.output_dir)
    monkeypatch.setenv("DATA_DIR", environment.data_dir)
    runner = CliRunner()
    output = str(tmp_path / "cli")
    restore = os.path.join(paths.checkpoints, "save.ckpt-7")
    result = runner.invoke(main, ["-in", images_dir, "-o", output, "-i", paths.experiment_id, "--restore_path", restore,
                                  "--no_save_images", "-c", paths.config_yaml])
    assert result.exit_code == 0, result.output
    assert len(all_results(output)) == 8 and not os.path.exists(os.path.join(output, "images"))

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "broken.png").write_bytes(b"")
    result = runner.invoke(main, ["-in", str(empty), "-o", output + "_empty", "-i", paths.experiment_id])
    assert result.exit_code == 2 and "no readable image" in result.output
    result = runner.invoke(main, ["-in", str(tmp_path / "missing"), "-o", output + "_missing",
                                  "-i", paths.experiment_id])
    assert result.exit_code == 2 and "not found" in result.output
    result = runner.invoke(main, ["-in", images_dir, "-o", output, "-i", paths.experiment_id, "--restore_path",
                                  os.path.join(paths.checkpoints, "save.ckpt-99")])
    assert result.exit_code == 2 and "save.ckpt-99" in result.output
    result = runner.invoke(main, ["-in", images_dir, "-o", output, "-i", "no_such_experiment"])
    assert result.exit_code == 2 and "config.yaml" in result.output


def test_schema_validator_rejects_bad_documents():
    from lmnet.runtime.results import result_document, schema_errors, validate_document
    classes = ["a", "b"]
    good = result_document("IMAGE.OBJECT_DETECTION", classes, [
        {"file_path": "/x.png", "prediction": [{"box": [1.0, 2.0, 3.0, 4.0], "class": {"id": 1, "name": "b"},
                                                "score": 0.5}]}])
    validate_document(json.loads(json.dumps(good)))
    bad_box = json.loads(json.dumps(good))
    bad_box["results"][0]["prediction"][0]["box"] = [1, 2, 3]
    bad_date = dict(good, date="yesterday")
    missing = {key: value for key, value in good.items() if key != "version"}
    bad_task = dict(good, task="IMAGE.SEGMENTATION")
    for document in (bad_box, bad_date, missing, bad_task):
        with pytest.raises(ValueError, match="schema"):
            validate_document(document)
    assert schema_errors({"id": True, "name": "a"}, {"type": "object", "properties": {"id": {"type": "integer"}}})
