"""The dataset check on real data: a YOLO-txt folder with planted problems, the embedded detection set through a
config, the trainer's quick check, and one-line errors for bad input."""
import ast
import random

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from executor import check_dataset
from lmnet import builders, config as config_module, dataset_check
from lmnet.anchors import fit_anchors, resized_sizes
from lmnet.common import Tasks
from lmnet.config import SmartDict
from lmnet.dataset_check import OUTSIDE
from lmnet.datasets.detection_base import Annotation, DetectionDataset
from lmnet.errors import ConfigError, DatasetError, OutputError
from tests.conftest import one_error_line, write_tiny_config, write_tiny_detection_config

#: ``(height, width)`` of the planted images.
SIZE = (48, 64)

#: Train images and their label files (YOLO: class cx cy w h, fractions of the image).
TRAIN = {
    "a.png": "0 0.5 0.5 0.25 0.25\n0 0.5 0.5 0.25 0.25\n",  # the same box twice: a duplicate
    "b.png": "1 0.5 0.5 0 0.2\n0 0.3 0.3 0.2 0.2\n",  # box 0 has no width: degenerate
    "c.png": "1 0.95 0.5 0.3 0.2\n",  # reaches from x = 51.2 to 70.4 in a 64-wide image: outside
    "d.png": "0 0.5 0.5 0.5 0.5\n",  # not an image at all
    "e.png": "0 0.5 0.5 0.5 0.5\n",  # a PNG cut in half: its header reads, its pixels do not
    "f.png": "3 0.5 0.5 0.2 0.2\n0 0.5 0.5 0.01 0.3\n",  # class 3 of 2; box 1 is 0.64 px wide: tiny
}


def _write_yolo(root):
    """The planted YOLO-txt dataset under ``root``; returns it."""
    (root / "train" / "images").mkdir(parents=True)
    (root / "train" / "labels").mkdir()
    (root / "validation" / "images").mkdir(parents=True)
    (root / "validation" / "labels").mkdir()
    (root / "classes.txt").write_text("cat\ndog\n")
    pixels = np.random.default_rng(0).integers(0, 256, (*SIZE, 3), dtype=np.uint8)
    for name, label in TRAIN.items():
        Image.fromarray(pixels).save(root / "train" / "images" / name)
        (root / "train" / "labels" / name.replace(".png", ".txt")).write_text(label)
    (root / "train" / "images" / "d.png").write_bytes(b"this is not an image")
    whole = (root / "train" / "images" / "e.png").read_bytes()
    (root / "train" / "images" / "e.png").write_bytes(whole[:len(whole) // 2])
    Image.fromarray(pixels).save(root / "validation" / "images" / "v.png")
    (root / "validation" / "labels" / "v.txt").write_text("1 0.5 0.5 0.5 0.5\n0 0.2 0.2 0.2 0.2\n")
    return root


def test_planted_problems_are_found_with_their_files(tmp_path, environment):
    root = _write_yolo(tmp_path / "planted")
    images, labels = root / "train" / "images", root / "train" / "labels"
    result = check_dataset.run(dataset="yolo_txt", folder=str(root), image_size=(64, 64), num_anchors=2,
                               output_dir=str(tmp_path / "out"), progress=False)
    train, validation = result.reports
    found = train.problems_by_kind()
    assert sorted(found) == sorted([dataset_check.DUPLICATE, dataset_check.DEGENERATE, dataset_check.OUTSIDE,
                                    dataset_check.UNREADABLE, "unknown class", dataset_check.TINY])
    messages = {kind: [problem.message for problem in problems] for kind, problems in found.items()}
    assert len(messages[dataset_check.DEGENERATE]) == 1 and str(labels / "b.txt") in messages["degenerate box"][0]
    assert len(messages[OUTSIDE]) == 1
    assert str(labels / "c.txt") in messages[dataset_check.OUTSIDE][0] and "6.4 px beyond" in messages[OUTSIDE][0]
    assert messages[dataset_check.DUPLICATE] == [f"{images / 'a.png'}: boxes 0 and 1 of class 0 overlap with IoU "
                                                 ">= 0.95"]
    unreadable = messages[dataset_check.UNREADABLE]
    assert len(unreadable) == 2
    assert any(str(images / "d.png") in message for message in unreadable)  # its header: found while building
    assert any(str(images / "e.png") in message for message in unreadable)  # its pixels: found decoding
    assert messages["unknown class"] == [f"{labels / 'f.txt'} line 1: class index 3 outside 0..1 of classes.txt"]
    assert len(messages[dataset_check.TINY]) == 1 and str(images / "f.png") in messages[dataset_check.TINY][0]
    assert validation.problems == []
    # statistics of what was read: d.png is left out (unreadable header), e.png has no decoded size
    assert (train.total, train.checked, len(train.image_sizes)) == (5, 5, 4)
    assert train.boxes_per_image.tolist() == [2, 1, 1, 1, 1]  # a, b (one kept), c (clipped), e, f (one kept)
    assert train.objects_per_class.tolist() == [5, 1] and train.images_per_class.tolist() == [4, 1]
    written = (tmp_path / "out" / "problems.txt").read_text().splitlines()
    assert len(written) == len(train.problems) and all(line.startswith("train\t") for line in written)
    assert result.anchors.fitted.anchors.shape == (2, 2) and result.anchors.current is None
    assert result.anchors.fitted.num_boxes == 5  # the tiny box gets no anchor
    assert "paste into the config:" in result.text


def test_embedded_detection_set_through_a_config(tmp_path, environment):
    config_path = write_tiny_detection_config(str(tmp_path))
    output_dir = tmp_path / "check"
    result = check_dataset.run(config_file=config_path, output_dir=str(output_dir), progress=False)
    for subset in ("train", "validation"):
        with Image.open(output_dir / f"{subset}.png") as image:
            assert image.format == "PNG" and image.size[0] > 500
            image.verify()
    assert (output_dir / "report.txt").read_text().strip() == result.text
    line = result.text.splitlines()[-1]
    statement = ast.parse(line).body[0]
    assert ast.unparse(statement.targets[0]) == "NETWORK.ANCHORS"
    pasted = ast.literal_eval(statement.value)
    np.testing.assert_allclose(pasted, result.anchors.fitted.anchors, atol=5e-5)
    assert result.anchors.grid_size == (2, 2) and result.anchors.current.anchors.tolist() == [[0.5, 0.5], [1, 1]]
    assert [report.total for report in result.reports] == [32, 8]
    assert all(report.problems == [] for report in result.reports)
    assert result.anchors.fitted.mean_iou > result.anchors.current.mean_iou
    with pytest.raises(OutputError, match="already holds results"):
        check_dataset.run(config_file=config_path, output_dir=str(output_dir), progress=False)


def _quick_lines(config, dataset):
    network = builders.build_network(config, list(dataset.classes), mixed_precision=False)
    lines = []
    states = np.random.get_state()[1].copy(), random.getstate()
    dataset_check.quick_check(config, dataset, network, lines.append)
    assert np.array_equal(np.random.get_state()[1], states[0]) and random.getstate() == states[1]
    return lines


def test_quick_check_warns_on_poor_anchors_only(tmp_path, environment):
    config_path = write_tiny_detection_config(str(tmp_path))
    bad = config_module.load(config_path, overrides=["NETWORK.ANCHORS=[[0.05, 0.05], [0.1, 0.1]]"])
    dataset = builders.build_dataset(bad, environment.data_dir, "train")
    lines = _quick_lines(bad, dataset)
    assert len(lines) == 1 and lines[0].startswith("dataset check: NETWORK.ANCHORS fit the training boxes poorly: "
                                                   "best-possible recall 0.000")
    boxes = [dataset.annotation(index) for index in range(len(dataset))]
    sizes = resized_sizes(np.concatenate([a.boxes[:, 2:] for a in boxes]),
                          np.concatenate([[a.image_size] * len(a) for a in boxes]), (2, 2))
    fitted = fit_anchors(sizes, 2).round(4).tolist()
    good = config_module.load(config_path, overrides=[f"NETWORK.ANCHORS={fitted}"])
    assert _quick_lines(good, dataset) == []


class _Unchecked(DetectionDataset):
    """A dataset class that hands its boxes over without clipping them, as a user's own class might."""

    classes = ["thing"]

    def _read_subset(self, subset):
        boxes = [[2, 2, 10, 10], [60, 2, 10, 10], [5, 5, 0, 4], [20, 20, 8, 8]]
        return ["only image"], [Annotation(boxes, [0, 0, 0, 0], None, (32, 64))]


def test_quick_check_names_degenerate_and_outside_boxes():
    config = SmartDict(TASK=Tasks.OBJECT_DETECTION, IMAGE_SIZE=[32, 64])
    lines = []
    dataset_check.quick_check(config, _Unchecked("train"), network=None, log=lines.append)
    assert lines == ["dataset check: 1 × degenerate box in 1 training samples, first: train sample 0: box 2 "
                     "[5, 5, 0, 4]: width and height must be finite numbers above 0",
                     "dataset check: 1 × box outside image in 1 training samples, first: train sample 0: box 1 "
                     "[60, 2, 10, 10] reaches 6 px beyond the 64x32 image (clipped to [60, 2, 4, 10])"]


def test_trainer_logs_the_quick_check(tmp_path, environment):
    from lmnet.training.trainer import Trainer
    config_path = write_tiny_detection_config(str(tmp_path))
    config = config_module.load(config_path, overrides=["NETWORK.ANCHORS=[[0.05, 0.05], [0.1, 0.1]]"])
    lines = []
    Trainer(config, environment.experiment("quick"), environment.data_dir, progress=False, log=lines.append)
    assert [line for line in lines if line.startswith("dataset check: NETWORK.ANCHORS fit the training boxes")]


def test_bad_input_gives_clear_errors(tmp_path, environment):
    with pytest.raises(ConfigError, match="nothing to check: give -c CONFIG_FILE or -d DATASET_MODULE"):
        check_dataset.run()
    with pytest.raises(ConfigError, match="-d/--dataset 'no_such_set': no module 'no_such_set' in lmnet.datasets"):
        check_dataset.run(dataset="no_such_set")
    with pytest.raises(ConfigError, match="--folder .*missing: not a folder"):
        check_dataset.run(dataset="yolo_txt", folder=str(tmp_path / "missing"))
    with pytest.raises(DatasetError, match="dataset directory .*yolo not found"):
        check_dataset.run(dataset="yolo_txt", output_dir=str(tmp_path / "out"))
    with pytest.raises(ConfigError, match="LmnetV1Quantize of .*tiny.py has no NETWORK.ANCHORS"):
        check_dataset.run(config_file=write_tiny_config(str(tmp_path)), num_anchors=3)
    with pytest.raises(ConfigError, match="a classification dataset has no boxes to fit anchors to"):
        check_dataset.run(dataset="synthetic_shapes", num_anchors=3)
    with pytest.raises(ConfigError, match="--image_size 60 64: expected positive multiples of the stride 32"):
        check_dataset.run(dataset="synthetic_shapes_detection", image_size=(60, 64))
    result = CliRunner().invoke(check_dataset.main, ["-d", "no_such_set"])
    assert "no module 'no_such_set'" in one_error_line(result.exit_code, result.output)
