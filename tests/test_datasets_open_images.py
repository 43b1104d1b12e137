"""OpenImagesV4 (OpenImages-style CSV) loader on real CSV files and JPEG / PNG images written by the tests."""
import os

import numpy as np
import pytest
from PIL import Image

from lmnet.datasets.open_images_v4 import OpenImagesV4
from lmnet.errors import DatasetError

HEADER = "ImageID,Source,LabelName,Confidence,XMin,XMax,YMin,YMax,IsOccluded,IsTruncated,IsGroupOf,IsDepiction,IsInside"
DESCRIPTIONS = "/m/0cat,Cat\n/m/0dog,Dog\n/m/0car,Car\n"


def _row(image_id, label, xmin, xmax, ymin, ymax, group=0):
    return f"{image_id},xclick,{label},1,{xmin},{xmax},{ymin},{ymax},0,0,{group},0,0"


def _write_image(root, image_id, size=(20, 40), color=(10, 120, 250)):
    """A solid-colour JPEG ``images/<image_id>.jpg`` of ``size`` = (h, w)."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    array = np.zeros((size[0], size[1], 3), np.uint8)
    array[:, :] = color
    Image.fromarray(array).save(root / "images" / f"{image_id}.jpg", format="JPEG", quality=95)


def _write(tmp_path, rows, images=None, header=HEADER, descriptions=DESCRIPTIONS, folder="open_images_v4"):
    """Writes the two CSV files and an image per ImageID of ``images`` (``{id: (h, w)}``)."""
    root = tmp_path / folder
    root.mkdir(parents=True, exist_ok=True)
    (root / "class-descriptions.csv").write_text(descriptions)
    (root / "annotations-bbox.csv").write_text("\n".join([header] + rows) + "\n")
    for image_id, size in (images or {}).items():
        _write_image(root, image_id, size)
    return root


def test_normalized_to_pixels_classes_and_group(tmp_path):
    _write(tmp_path, [_row("aaa", "/m/0dog", 0.25, 0.75, 0.1, 0.6), _row("aaa", "/m/0car", 0, 1, 0, 1, group=1),
                      _row("bbb", "/m/0cat", 0.5, 1.2, 0.5, 1.0)], images={"aaa": (20, 40), "bbb": (32, 16)})
    dataset = OpenImagesV4("train", data_dir=str(tmp_path), validation_ratio=0.0)
    assert dataset.classes == ("Cat", "Dog", "Car") and dataset.num_classes == 3
    assert len(dataset) == 2 and dataset.max_boxes == 1
    first = dataset.annotation(0)
    np.testing.assert_allclose(first.boxes, [[10, 2, 20, 10], [0, 0, 40, 20]], atol=1e-5)
    assert first.class_ids.tolist() == [1, 2] and first.ignore.tolist() == [False, True]
    assert first.image_size == (20, 40)
    np.testing.assert_allclose(dataset.annotation(1).boxes, [[8, 16, 8, 16]], atol=1e-5)  # clipped at x = 16
    image, gt_boxes = dataset[0]
    assert image.shape == (20, 40, 3) and image.dtype == np.uint8
    assert np.all(np.abs(image[10, 20].astype(int) - (10, 120, 250)) <= 3)
    np.testing.assert_allclose(gt_boxes, [[10, 2, 20, 10, 1]], atol=1e-5)
    grouped = OpenImagesV4("train", data_dir=str(tmp_path), validation_ratio=0.0, use_ignored=True, max_boxes=3)
    assert grouped[0][1][:, 4].tolist() == [1, 2, -1]


def test_minimal_columns_without_group(tmp_path):
    _write(tmp_path, ["x1,/m/0cat,0,0.5,0,0.5"], images={"x1": (16, 16)},
           header="ImageID,LabelName,XMin,XMax,YMin,YMax")
    dataset = OpenImagesV4("train", data_dir=str(tmp_path), validation_ratio=0.0)
    np.testing.assert_allclose(dataset[0][1], [[0, 0, 8, 8, 0]])
    assert dataset.annotation(0).ignore.tolist() == [False]


def test_seeded_validation_split_over_image_ids(tmp_path):
    ids = [f"img{index:02d}" for index in range(10)]
    _write(tmp_path, [_row(image_id, "/m/0cat", 0, 0.5, 0, 0.5) for image_id in ids],
           images={image_id: (16, 16) for image_id in ids})
    kwargs = {"data_dir": str(tmp_path), "validation_ratio": 0.3, "split_seed": 4}
    train, validation = OpenImagesV4("train", **kwargs), OpenImagesV4("validation", **kwargs)
    names = [{os.path.basename(path)[:-4] for path in dataset.paths} for dataset in (train, validation)]
    assert len(names[0]) == 7 and len(names[1]) == 3
    assert names[0] | names[1] == set(ids) and not names[0] & names[1]
    assert validation.paths == OpenImagesV4("test", **kwargs).paths
    assert train.paths == sorted(train.paths)
    with pytest.raises(DatasetError, match="validation_ratio"):
        OpenImagesV4("validation", data_dir=str(tmp_path), validation_ratio=0.0)
    with pytest.raises(DatasetError, match="validation_ratio"):
        OpenImagesV4("train", data_dir=str(tmp_path), validation_ratio=1.0)


def _expect_problem(tmp_path, counts, name):
    with pytest.raises(DatasetError) as error:
        OpenImagesV4("train", data_dir=str(tmp_path), validation_ratio=0.0)
    assert name in str(error.value)
    dataset = OpenImagesV4("train", data_dir=str(tmp_path), validation_ratio=0.0, skip_bad_annotations=True)
    assert dict(dataset.bad_annotations.counts) == counts
    return dataset, str(error.value)


def test_box_outside_image_is_a_problem(tmp_path):
    _write(tmp_path, [_row("aaa", "/m/0dog", 1.1, 1.5, 0, 1), _row("aaa", "/m/0cat", 0, 1, 0, 1)],
           images={"aaa": (16, 16)})
    dataset, _ = _expect_problem(tmp_path, {"empty box": 1}, "annotations-bbox.csv")
    assert dataset.annotation(0).class_ids.tolist() == [0]


def test_unknown_label_is_a_problem(tmp_path):
    _write(tmp_path, [_row("aaa", "/m/0cat", 0, 1, 0, 1), _row("aaa", "/m/0yak", 0, 1, 0, 1)],
           images={"aaa": (16, 16)})
    dataset, message = _expect_problem(tmp_path, {"unknown class": 1}, "annotations-bbox.csv line 3")
    assert "/m/0yak" in message and len(dataset.annotation(0)) == 1


def test_malformed_rows_are_problems(tmp_path):
    rows = [_row("aaa", "/m/0cat", "oops", 1, 0, 1), "aaa,xclick,/m/0cat", _row("aaa", "/m/0dog", 0, 1, 0, 1)]
    _write(tmp_path, rows, images={"aaa": (16, 16)})
    dataset, _ = _expect_problem(tmp_path, {"malformed row": 2}, "annotations-bbox.csv line 2")
    assert dataset.annotation(0).class_ids.tolist() == [1]


def test_missing_image_is_a_problem(tmp_path):
    _write(tmp_path, [_row("aaa", "/m/0cat", 0, 1, 0, 1), _row("bbb", "/m/0cat", 0, 1, 0, 1)],
           images={"bbb": (16, 16)})
    dataset, message = _expect_problem(tmp_path, {"missing image": 1}, os.path.join("images", "aaa.jpg"))
    assert "annotations-bbox.csv" in message
    assert [os.path.basename(path) for path in dataset.paths] == ["bbb.jpg"]


def test_missing_columns_and_bad_descriptions_name_the_file(tmp_path):
    root = _write(tmp_path, ["aaa,/m/0cat,0,1,0"], images={"aaa": (16, 16)}, header="ImageID,LabelName,XMin,XMax,YMin")
    with pytest.raises(DatasetError) as error:
        OpenImagesV4("train", data_dir=str(tmp_path), validation_ratio=0.0, skip_bad_annotations=True)
    assert str(root / "annotations-bbox.csv") in str(error.value) and "YMax" in str(error.value)
    (root / "class-descriptions.csv").write_text("/m/0cat,Cat\n/m/0dog\n")
    with pytest.raises(DatasetError) as error:
        OpenImagesV4("train", data_dir=str(tmp_path), validation_ratio=0.0)
    assert f"{root / 'class-descriptions.csv'} line 2" in str(error.value)


def test_malformed_csv_names_the_file(tmp_path):
    root = _write(tmp_path, [], images={"aaa": (16, 16)})
    (root / "annotations-bbox.csv").write_bytes(HEADER.encode() + b"\naaa,\xff\xfe,/m/0cat\n")
    with pytest.raises(DatasetError) as error:
        OpenImagesV4("train", data_dir=str(tmp_path), validation_ratio=0.0, skip_bad_annotations=True)
    assert str(root / "annotations-bbox.csv") in str(error.value)


def test_missing_directory_names_path(tmp_path):
    with pytest.raises(DatasetError) as error:
        OpenImagesV4("train", data_dir=str(tmp_path))
    assert os.path.join(str(tmp_path), "open_images_v4") in str(error.value)
    (tmp_path / "open_images_v4").mkdir()
    with pytest.raises(DatasetError) as error:
        OpenImagesV4("train", data_dir=str(tmp_path))
    assert "class-descriptions.csv" in str(error.value)
