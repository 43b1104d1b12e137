"""ImageFolder on real PNG / JPEG files written with Pillow."""
import os

import numpy as np
import pytest
from PIL import Image

from lmnet.datasets.image_folder import ImageFolder
from lmnet.errors import DatasetError

COUNTS = {"cat": 5, "dog": 6, "bird": 7}


def _color(label, index):
    return (label * 40, index * 10, 7)


def _write_image(path, color, size=(6, 8)):
    """Writes a solid-colour image of ``size`` = (height, width), PNG or JPEG by extension."""
    height, width = size
    array = np.zeros((height, width, 3), dtype=np.uint8)
    array[:, :] = color
    array[0, width - 1] = (255, 0, 128)  # a marker pixel at y=0, x=width-1
    kind = "JPEG" if path.suffix.lower() in (".jpg", ".jpeg") else "PNG"
    Image.fromarray(array).save(path, format=kind)


def _make_folder(root, counts=COUNTS, extension=".png"):
    """Writes one folder per class; returns {path: (label, color)} with labels in sorted class order."""
    expected = {}
    for label, name in enumerate(sorted(counts)):
        folder = root / name
        folder.mkdir(parents=True)
        for index in range(counts[name]):
            path = folder / f"img_{index:02d}{extension}"
            _write_image(path, _color(label, index))
            expected[str(path)] = (label, _color(label, index))
    return expected


def _paths(dataset):
    return dataset.paths


def test_classes_labels_and_pixels_round_trip(tmp_path):
    expected = _make_folder(tmp_path / "image_folder")
    (tmp_path / "image_folder" / "dog" / "notes.txt").write_text("not an image")
    (tmp_path / "image_folder" / ".hidden").mkdir()
    dataset = ImageFolder("train", data_dir=str(tmp_path), validation_ratio=0.0)
    assert dataset.classes == ["bird", "cat", "dog"] and dataset.num_classes == 3
    assert len(dataset) == sum(COUNTS.values())
    for index in range(len(dataset)):
        image, label = dataset[index]
        path = _paths(dataset)[index]
        assert (label, tuple(image[3, 2])) == expected[path]
        assert image.shape == (6, 8, 3) and image.dtype == np.uint8
        assert tuple(image[0, 7]) == (255, 0, 128)
    assert list(ImageFolder.classes) == []


def test_stratified_validation_split(tmp_path):
    _make_folder(tmp_path / "image_folder")
    kwargs = {"data_dir": str(tmp_path), "validation_ratio": 0.4, "split_seed": 5}
    train, validation = ImageFolder("train", **kwargs), ImageFolder("validation", **kwargs)
    # bird 7 -> 3 (2.8), cat 5 -> 2, dog 6 -> 2 (2.4)
    assert np.bincount(validation.labels, minlength=3).tolist() == [3, 2, 2]
    assert np.bincount(train.labels, minlength=3).tolist() == [4, 3, 4]
    assert not set(_paths(train)) & set(_paths(validation))
    assert len(set(_paths(train)) | set(_paths(validation))) == 18
    assert _paths(ImageFolder("test", **kwargs)) == _paths(validation)
    other = ImageFolder("validation", data_dir=str(tmp_path), validation_ratio=0.4, split_seed=6)
    assert np.bincount(other.labels, minlength=3).tolist() == [3, 2, 2]


def test_split_is_deterministic_and_keeps_one_training_image(tmp_path):
    _make_folder(tmp_path / "image_folder", counts={"a": 1, "b": 2, "c": 10})
    kwargs = {"data_dir": str(tmp_path), "validation_ratio": 0.9, "split_seed": 1}
    first, second = ImageFolder("validation", **kwargs), ImageFolder("validation", **kwargs)
    assert _paths(first) == _paths(second)
    train = ImageFolder("train", **kwargs)
    assert np.bincount(train.labels, minlength=3).tolist() == [1, 1, 1]
    assert np.bincount(first.labels, minlength=3).tolist() == [0, 1, 9]


def test_train_validation_saving_from_training_part(tmp_path):
    _make_folder(tmp_path / "image_folder")
    kwargs = {"data_dir": str(tmp_path), "validation_ratio": 0.2, "train_validation_saving_size": 3, "seed": 2}
    train = ImageFolder("train", **kwargs)
    saving = ImageFolder("train_validation_saving", **kwargs)
    validation = ImageFolder("validation", **kwargs)
    assert len(saving) == 3 and len(train) + len(saving) + len(validation) == 18
    assert not set(_paths(train)) & set(_paths(saving))
    assert not set(_paths(validation)) & (set(_paths(train)) | set(_paths(saving)))
    assert _paths(ImageFolder("train_validation_saving", **kwargs)) == _paths(saving)


def test_extensions_are_case_insensitive_and_jpeg_reads(tmp_path):
    root = tmp_path / "pets"
    _make_folder(root, counts={"x": 2}, extension=".JPG")
    _write_image(root / "x" / "third.Png", (10, 20, 30))
    _write_image(root / "x" / "fourth.jpeg", (200, 100, 50))
    dataset = ImageFolder("train", data_dir=str(tmp_path), extend_dir="pets", validation_ratio=0.0)
    assert len(dataset) == 4
    by_name = {os.path.basename(path): index for index, path in enumerate(_paths(dataset))}
    np.testing.assert_array_equal(dataset[by_name["third.Png"]][0][3, 3], [10, 20, 30])
    jpeg = dataset[by_name["fourth.jpeg"]][0][3, 3].astype(int)
    assert np.all(np.abs(jpeg - [200, 100, 50]) <= 6)


@pytest.mark.parametrize("validation_name", ["validation", "test"])
def test_presplit_folders_are_used_as_subsets(tmp_path, validation_name):
    root = tmp_path / "image_folder"
    _make_folder(root / "train", counts={"ant": 3, "bee": 4})
    _make_folder(root / validation_name, counts={"bee": 2})
    train = ImageFolder("train", data_dir=str(tmp_path), validation_ratio=0.5)
    validation = ImageFolder("validation", data_dir=str(tmp_path), validation_ratio=0.5)
    assert train.classes == validation.classes == ["ant", "bee"]
    assert len(train) == 7 and train.labels.tolist() == [0, 0, 0, 1, 1, 1, 1]
    assert len(validation) == 2 and validation.labels.tolist() == [1, 1]
    assert all(f"{os.sep}{validation_name}{os.sep}bee{os.sep}" in path for path in _paths(validation))
    # _make_folder numbered "bee" as its first (only) class, so its images carry the colours of label 0
    np.testing.assert_array_equal(validation[1][0][3, 3], _color(0, 1))


def test_presplit_unknown_validation_class_names_folder(tmp_path):
    root = tmp_path / "image_folder"
    _make_folder(root / "train", counts={"ant": 2})
    _make_folder(root / "validation", counts={"wasp": 2})
    with pytest.raises(DatasetError, match="wasp"):
        ImageFolder("validation", data_dir=str(tmp_path))


def test_corrupt_image_error_names_file_when_loaded(tmp_path):
    _make_folder(tmp_path / "image_folder", counts={"a": 2})
    bad = tmp_path / "image_folder" / "a" / "zz_broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    dataset = ImageFolder("train", data_dir=str(tmp_path), validation_ratio=0.0)
    position = _paths(dataset).index(str(bad))
    with pytest.raises(DatasetError) as error:
        dataset[position]
    assert "zz_broken.jpg" in str(error.value)


def test_empty_class_folder_names_folder(tmp_path):
    _make_folder(tmp_path / "image_folder", counts={"a": 2})
    (tmp_path / "image_folder" / "empty_class").mkdir()
    (tmp_path / "image_folder" / "empty_class" / "readme.txt").write_text("no images here")
    with pytest.raises(DatasetError) as error:
        ImageFolder("train", data_dir=str(tmp_path))
    assert os.path.join("image_folder", "empty_class") in str(error.value)


def test_no_class_folders_names_folder(tmp_path):
    (tmp_path / "image_folder").mkdir()
    _write_image(tmp_path / "image_folder" / "loose.png", (1, 2, 3))
    with pytest.raises(DatasetError) as error:
        ImageFolder("train", data_dir=str(tmp_path))
    assert str(tmp_path / "image_folder") in str(error.value)


def test_missing_directory_names_path(tmp_path):
    with pytest.raises(DatasetError) as error:
        ImageFolder("train", data_dir=str(tmp_path), extend_dir="flowers")
    assert os.path.join(str(tmp_path), "flowers") in str(error.value)


def test_empty_validation_subset_is_an_error(tmp_path):
    _make_folder(tmp_path / "image_folder", counts={"a": 3})
    with pytest.raises(DatasetError) as error:
        ImageFolder("validation", data_dir=str(tmp_path), validation_ratio=0.0)
    assert str(tmp_path / "image_folder") in str(error.value)


def test_bad_validation_ratio_is_refused(tmp_path):
    with pytest.raises(DatasetError, match="validation_ratio"):
        ImageFolder("train", data_dir=str(tmp_path), validation_ratio=1.0)
