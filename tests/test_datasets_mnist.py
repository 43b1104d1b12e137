"""MNIST loader on real idx files (plain and gzipped) written byte by byte."""
import gzip
import os
import struct

import numpy as np
import pytest

from lmnet.datasets.mnist import Mnist
from lmnet.errors import DatasetError

NAMES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "validation": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _images_idx(images):
    count, rows, columns = images.shape
    return struct.pack(">IIII", 0x00000803, count, rows, columns) + images.astype(np.uint8).tobytes()


def _labels_idx(labels):
    return struct.pack(">II", 0x00000801, len(labels)) + bytes(int(label) for label in labels)


def _write(path, content, gzipped):
    if gzipped:
        with gzip.open(f"{path}.gz", "wb") as stream:
            stream.write(content)
        return f"{path}.gz"
    with open(path, "wb") as stream:
        stream.write(content)
    return str(path)


def _make_mnist(data_dir, gzipped=False, counts=(15, 6)):
    """Writes random digits; returns {subset: (images, labels)}."""
    folder = data_dir / "MNIST"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    written = {}
    for (subset, (images_name, labels_name)), count in zip(NAMES.items(), counts):
        images = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
        labels = np.arange(count) % 10
        _write(folder / images_name, _images_idx(images), gzipped)
        _write(folder / labels_name, _labels_idx(labels), gzipped)
        written[subset] = (images, labels)
    return written


@pytest.mark.parametrize("gzipped", [False, True])
def test_mnist_reads_images_as_rgb_and_labels(tmp_path, gzipped):
    written = _make_mnist(tmp_path, gzipped=gzipped)
    train = Mnist("train", data_dir=str(tmp_path))
    images, labels = written["train"]
    assert len(train) == 15
    assert train.classes == [str(digit) for digit in range(10)] and train.num_classes == 10
    np.testing.assert_array_equal(train.labels, labels)
    image, label = train[12]
    assert image.shape == (28, 28, 3) and image.dtype == np.uint8
    assert label == 2
    for channel in range(3):
        np.testing.assert_array_equal(image[:, :, channel], images[12])
    assert image[27, 3, 1] == images[12][27, 3]


def test_mnist_test_alias_and_validation_size(tmp_path):
    written = _make_mnist(tmp_path, gzipped=True)
    test = Mnist("test", data_dir=str(tmp_path))
    assert test.subset == "validation" and len(test) == 6
    np.testing.assert_array_equal(test[5][0][:, :, 0], written["validation"][0][5])


def test_mnist_plain_file_preferred_over_gz(tmp_path):
    _make_mnist(tmp_path, gzipped=True)
    folder = tmp_path / "MNIST"
    images = np.full((3, 28, 28), 7, dtype=np.uint8)
    _write(folder / "t10k-images-idx3-ubyte", _images_idx(images), gzipped=False)
    _write(folder / "t10k-labels-idx1-ubyte", _labels_idx([1, 2, 3]), gzipped=False)
    test = Mnist("test", data_dir=str(tmp_path))
    assert len(test) == 3 and int(test[0][0][0, 0, 0]) == 7


def test_mnist_train_validation_saving(tmp_path):
    _make_mnist(tmp_path)
    kwargs = {"data_dir": str(tmp_path), "train_validation_saving_size": 4, "seed": 1}
    train, saving = Mnist("train", **kwargs), Mnist("train_validation_saving", **kwargs)
    assert len(train) == 11 and len(saving) == 4
    train_ids = {train[index][0].tobytes() for index in range(len(train))}
    saving_ids = {saving[index][0].tobytes() for index in range(len(saving))}
    assert not train_ids & saving_ids and len(train_ids | saving_ids) == 15


def test_mnist_missing_directory_names_path(tmp_path):
    with pytest.raises(DatasetError) as error:
        Mnist("train", data_dir=str(tmp_path))
    assert os.path.join(str(tmp_path), "MNIST") in str(error.value)


def test_mnist_missing_file_names_it(tmp_path):
    _make_mnist(tmp_path)
    os.remove(tmp_path / "MNIST" / "t10k-labels-idx1-ubyte")
    with pytest.raises(DatasetError, match="t10k-labels-idx1-ubyte"):
        Mnist("test", data_dir=str(tmp_path))


@pytest.mark.parametrize("gzipped", [False, True])
def test_mnist_bad_magic_names_file(tmp_path, gzipped):
    _make_mnist(tmp_path, gzipped=gzipped)
    content = _labels_idx([0, 1, 2])  # a labels file where the images file belongs
    path = _write(tmp_path / "MNIST" / "train-images-idx3-ubyte", content, gzipped)
    with pytest.raises(DatasetError) as error:
        Mnist("train", data_dir=str(tmp_path))
    message = str(error.value)
    assert path in message and "magic" in message and "0x00000803" in message


@pytest.mark.parametrize("gzipped", [False, True])
def test_mnist_truncated_data_names_file(tmp_path, gzipped):
    _make_mnist(tmp_path, gzipped=gzipped)
    images = np.zeros((15, 28, 28), dtype=np.uint8)
    path = _write(tmp_path / "MNIST" / "train-images-idx3-ubyte", _images_idx(images)[:-100], gzipped)
    with pytest.raises(DatasetError, match="truncated") as error:
        Mnist("train", data_dir=str(tmp_path))
    assert path in str(error.value)


def test_mnist_truncated_header_names_file(tmp_path):
    _make_mnist(tmp_path)
    path = tmp_path / "MNIST" / "train-labels-idx1-ubyte"
    path.write_bytes(struct.pack(">I", 0x00000801) + b"\x00\x00")
    with pytest.raises(DatasetError, match="train-labels-idx1-ubyte.*truncated"):
        Mnist("train", data_dir=str(tmp_path))


def test_mnist_trailing_bytes_names_file(tmp_path):
    _make_mnist(tmp_path)
    path = tmp_path / "MNIST" / "t10k-labels-idx1-ubyte"
    path.write_bytes(_labels_idx([0] * 6) + b"extra")
    with pytest.raises(DatasetError, match="t10k-labels-idx1-ubyte.*5 bytes more"):
        Mnist("test", data_dir=str(tmp_path))


def test_mnist_count_mismatch_names_both_files(tmp_path):
    _make_mnist(tmp_path)
    _write(tmp_path / "MNIST" / "train-labels-idx1-ubyte", _labels_idx([0] * 14), gzipped=False)
    with pytest.raises(DatasetError) as error:
        Mnist("train", data_dir=str(tmp_path))
    message = str(error.value)
    assert "train-images-idx3-ubyte" in message and "train-labels-idx1-ubyte" in message
    assert "15 images" in message and "14 labels" in message


def test_mnist_label_out_of_range_names_file(tmp_path):
    _make_mnist(tmp_path)
    _write(tmp_path / "MNIST" / "t10k-labels-idx1-ubyte", _labels_idx([0, 1, 2, 3, 4, 12]), gzipped=False)
    with pytest.raises(DatasetError, match="t10k-labels-idx1-ubyte.*label 12"):
        Mnist("test", data_dir=str(tmp_path))


def test_mnist_corrupt_gzip_names_file(tmp_path):
    _make_mnist(tmp_path, gzipped=True)
    path = tmp_path / "MNIST" / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(DatasetError, match="t10k-images-idx3-ubyte.gz"):
        Mnist("test", data_dir=str(tmp_path))
