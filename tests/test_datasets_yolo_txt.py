"""YoloTxt loader on real classes.txt, label files and PNG images written by the tests."""
import os

import numpy as np
import pytest
from PIL import Image

from lmnet.datasets.yolo_txt import YoloTxt
from lmnet.errors import DatasetError


def _write_image(path, size, color):
    """A solid-colour image of ``size`` = (h, w) with a white marker pixel at (0, w - 1)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    array = np.zeros((size[0], size[1], 3), np.uint8)
    array[:, :] = color
    array[0, size[1] - 1] = (255, 255, 255)
    Image.fromarray(array).save(path)


def _write(tmp_path, samples, subset="train", classes=("cat", "dog", "car"), folder="yolo"):
    """``samples`` maps an image file name to ``((h, w), label text or None)``."""
    root = tmp_path / folder
    root.mkdir(parents=True, exist_ok=True)
    (root / "classes.txt").write_text("\n".join(classes) + "\n\n")
    for name, (size, label) in samples.items():
        _write_image(root / subset / "images" / name, size, (len(name) * 10, 80, 160))
        if label is not None:
            (root / subset / "labels").mkdir(parents=True, exist_ok=True)
            (root / subset / "labels" / f"{os.path.splitext(name)[0]}.txt").write_text(label)
    return root


def test_center_to_corner_classes_and_pixels(tmp_path):
    _write(tmp_path, {"a.png": ((20, 40), "1 0.5 0.5 0.5 0.5\n\n2 0.125 0.25 0.25 0.5\n"),
                      "b.jpg": ((16, 16), None), "cc.png": ((32, 32), "0 0.9 0.5 0.4 0.2\n")})
    dataset = YoloTxt("train", data_dir=str(tmp_path))
    assert dataset.classes == ("cat", "dog", "car") and dataset.num_classes == 3
    assert [os.path.basename(path) for path in dataset.paths] == ["a.png", "b.jpg", "cc.png"]
    assert dataset.max_boxes == 2
    first = dataset.annotation(0)
    np.testing.assert_allclose(first.boxes, [[10, 5, 20, 10], [0, 0, 10, 10]], atol=1e-5)
    assert first.class_ids.tolist() == [1, 2] and first.image_size == (20, 40)
    np.testing.assert_allclose(dataset.annotation(2).boxes, [[22.4, 12.8, 9.6, 6.4]], atol=1e-5)  # clipped at 32
    image, gt_boxes = dataset[0]
    assert image.shape == (20, 40, 3) and image.dtype == np.uint8
    assert tuple(image[10, 10]) == (50, 80, 160) and tuple(image[0, 39]) == (255, 255, 255)
    np.testing.assert_allclose(gt_boxes, [[10, 5, 20, 10, 1], [0, 0, 10, 10, 2]], atol=1e-5)
    assert len(dataset.annotation(1)) == 0
    assert dataset[1][1][:, 4].tolist() == [-1, -1]


def test_validation_subset(tmp_path):
    _write(tmp_path, {"a.png": ((16, 16), "0 0.5 0.5 1 1\n")})
    _write(tmp_path, {"v1.png": ((16, 16), "1 0.5 0.5 0.5 0.5\n"), "v2.png": ((16, 16), None)}, subset="validation")
    validation = YoloTxt("validation", data_dir=str(tmp_path))
    assert [os.path.basename(path) for path in validation.paths] == ["v1.png", "v2.png"]
    np.testing.assert_allclose(validation[0][1], [[4, 4, 8, 8, 1]])
    assert len(YoloTxt("train", data_dir=str(tmp_path))) == 1


def _expect_problem(tmp_path, counts, name):
    with pytest.raises(DatasetError) as error:
        YoloTxt("train", data_dir=str(tmp_path))
    assert name in str(error.value)
    dataset = YoloTxt("train", data_dir=str(tmp_path), skip_bad_annotations=True)
    assert dict(dataset.bad_annotations.counts) == counts
    return dataset


@pytest.mark.parametrize("line, kind", [
    ("1 0.5 0.5 0.5\n", "malformed label"),
    ("1 0.5 0.5 0.5 0.5 9\n", "malformed label"),
    ("1 0.5 half 0.5 0.5\n", "malformed label"),
    ("1.5 0.5 0.5 0.5 0.5\n", "malformed label"),
    ("3 0.5 0.5 0.5 0.5\n", "unknown class"),
    ("-1 0.5 0.5 0.5 0.5\n", "unknown class"),
    ("0 1.5 0.5 0.5 0.5\n", "empty box"),
])
def test_bad_label_line_is_a_problem(tmp_path, line, kind):
    root = _write(tmp_path, {"a.png": ((16, 16), "0 0.5 0.5 0.5 0.5\n\n" + line)})
    dataset = _expect_problem(tmp_path, {kind: 1}, str(root / "train" / "labels" / "a.txt"))
    np.testing.assert_allclose(dataset[0][1], [[4, 4, 8, 8, 0]])
    if kind != "empty box":
        with pytest.raises(DatasetError, match="a.txt line 3"):
            YoloTxt("train", data_dir=str(tmp_path))


def test_label_without_image_is_a_missing_image(tmp_path):
    root = _write(tmp_path, {"a.png": ((16, 16), "0 0.5 0.5 0.5 0.5\n")})
    (root / "train" / "labels" / "ghost.txt").write_text("0 0.5 0.5 0.5 0.5\n")
    dataset = _expect_problem(tmp_path, {"missing image": 1}, "ghost.txt")
    assert len(dataset) == 1


def test_missing_folders_name_the_path(tmp_path):
    with pytest.raises(DatasetError) as error:
        YoloTxt("train", data_dir=str(tmp_path), extend_dir="boxes")
    assert os.path.join(str(tmp_path), "boxes") in str(error.value)
    _write(tmp_path, {"a.png": ((16, 16), None)})
    with pytest.raises(DatasetError) as error:
        YoloTxt("validation", data_dir=str(tmp_path))
    assert str(tmp_path / "yolo" / "validation" / "images") in str(error.value)
    os.remove(tmp_path / "yolo" / "classes.txt")
    with pytest.raises(DatasetError) as error:
        YoloTxt("train", data_dir=str(tmp_path))
    assert str(tmp_path / "yolo" / "classes.txt") in str(error.value)


def test_lazy_annotations_match_eager_and_report_bad_labels_when_read(tmp_path):
    root = _write(tmp_path, {"a.png": ((20, 40), "1 0.5 0.5 0.5 0.5\n2 0.125 0.25 0.25 0.5\n"),
                             "b.jpg": ((16, 16), None), "cc.png": ((32, 32), "0 0.9 0.5 0.4 0.2\n")})
    eager = YoloTxt("train", data_dir=str(tmp_path), max_boxes=3)
    lazy = YoloTxt("train", data_dir=str(tmp_path), max_boxes=3, lazy_annotations=True)
    assert lazy.paths == eager.paths
    for index in range(len(eager)):
        for got, expected in zip(lazy[index], eager[index]):
            np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(lazy.annotation(index).boxes, eager.annotation(index).boxes)
    (root / "train" / "labels" / "cc.txt").write_text("7 0.5 0.5 0.1 0.1\n")  # read when the sample is
    with pytest.raises(DatasetError, match=r"cc\.txt line 1: class index 7 outside 0\.\.2"):
        lazy[2]
    with pytest.raises(DatasetError, match="lazy_annotations=True needs max_boxes"):
        YoloTxt("train", data_dir=str(tmp_path), lazy_annotations=True)
