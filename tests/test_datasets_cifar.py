"""CIFAR-10 / CIFAR-100 loaders and the restricted unpickler, on real pickled batch files."""
import codecs
import os
import pickle
import warnings

import numpy as np
import pytest

from lmnet.datasets.cifar10 import Cifar10
from lmnet.datasets.cifar100 import Cifar100
from lmnet.datasets.safe_pickle import load_pickle
from lmnet.errors import DatasetError

TRAIN_PER_BATCH = 4
TEST_COUNT = 6


def _rows(first_index, count, rng):
    """Random CIFAR rows whose first byte (R plane, pixel (0, 0)) is the image's global index."""
    data = rng.integers(0, 256, size=(count, 3072), dtype=np.uint8)
    data[:, 0] = np.arange(first_index, first_index + count, dtype=np.uint8)
    return data


def _write_batch(path, data, labels, label_key=b"labels", protocol=2, extra=None):
    """Writes a batch the way the official files are laid out: a dict with bytes keys."""
    batch = {b"batch_label": b"training batch", label_key: labels, b"data": data,
             b"filenames": [f"image_{index}.png".encode() for index in range(len(data))]}
    batch.update(extra or {})
    with open(path, "wb") as stream:
        pickle.dump(batch, stream, protocol=protocol)


def _make_cifar10(data_dir, protocol=2):
    """Writes 5 training batches of 4 images and a test batch of 6; returns (train rows, train labels)."""
    folder = data_dir / "CIFAR_10" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    all_rows, all_labels = [], []
    for number in range(1, 6):
        rows = _rows((number - 1) * TRAIN_PER_BATCH, TRAIN_PER_BATCH, rng)
        labels = [int(value) for value in rng.integers(0, 10, TRAIN_PER_BATCH)]
        _write_batch(folder / f"data_batch_{number}", rows, labels, protocol=protocol)
        all_rows.append(rows)
        all_labels.extend(labels)
    test_rows = _rows(100, TEST_COUNT, rng)
    _write_batch(folder / "test_batch", test_rows, list(range(TEST_COUNT)), protocol=protocol)
    with open(folder / "batches.meta", "wb") as stream:
        pickle.dump({b"num_cases_per_batch": TRAIN_PER_BATCH, b"num_vis": 3072,
                     b"label_names": [name.encode() for name in Cifar10.classes]}, stream, protocol=2)
    return np.concatenate(all_rows), np.array(all_labels), test_rows


def _make_cifar100(data_dir, train_count=12, test_count=5):
    """Writes CIFAR-100 train/test/meta files; returns (train rows, fine labels)."""
    folder = data_dir / "CIFAR_100" / "cifar-100-python"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(2)
    rows = _rows(0, train_count, rng)
    fine = [0, 99] + [int(value) for value in rng.integers(0, 100, train_count - 2)]
    extra = {b"coarse_labels": [label // 5 for label in fine]}
    _write_batch(folder / "train", rows, fine, label_key=b"fine_labels", extra=extra)
    _write_batch(folder / "test", _rows(50, test_count, rng), list(range(test_count)), label_key=b"fine_labels",
                 extra={b"coarse_labels": [0] * test_count})
    with open(folder / "meta", "wb") as stream:
        pickle.dump({b"fine_label_names": [name.encode() for name in Cifar100.classes],
                     b"coarse_label_names": [b"x"] * 20}, stream, protocol=2)
    return rows, np.array(fine)


def _batch_path(data_dir, name="data_batch_1"):
    return data_dir / "CIFAR_10" / "cifar-10-batches-py" / name


# ---------------------------------------------------------------------------------------------- CIFAR-10

@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_cifar10_train_shapes_labels_and_plane_order(tmp_path, protocol):
    rows, labels, _ = _make_cifar10(tmp_path, protocol=protocol)
    dataset = Cifar10("train", data_dir=str(tmp_path))
    assert len(dataset) == 5 * TRAIN_PER_BATCH
    assert dataset.num_classes == 10
    np.testing.assert_array_equal(dataset.labels, labels)
    for index in (0, 7, 19):
        image, label = dataset[index]
        assert image.shape == (32, 32, 3) and image.dtype == np.uint8
        assert label == labels[index] and isinstance(label, int)
        row = rows[index]
        for channel in range(3):
            for y in (0, 5, 31):
                for x in (0, 17, 31):
                    assert image[y, x, channel] == row[channel * 1024 + y * 32 + x]


def test_cifar10_single_pixel_lands_at_y_x_channel(tmp_path):
    folder = tmp_path / "CIFAR_10" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    data = np.zeros((2, 3072), dtype=np.uint8)
    data[0, 0 * 1024 + 1 * 32 + 2] = 200   # red at y=1, x=2
    data[0, 1 * 1024 + 3 * 32 + 4] = 100   # green at y=3, x=4
    data[0, 2 * 1024 + 31 * 32 + 0] = 50   # blue at y=31, x=0
    for name in [f"data_batch_{number}" for number in range(1, 6)] + ["test_batch"]:
        _write_batch(folder / name, data, [3, 9])
    image, label = Cifar10("test", data_dir=str(tmp_path))[0]
    assert label == 3
    assert image[1, 2, 0] == 200 and image[3, 4, 1] == 100 and image[31, 0, 2] == 50
    assert int(image.sum()) == 350


def _py2_string(value):
    """A protocol-0 STRING opcode: how Python 2 pickled a ``str`` (read back as ``bytes``)."""
    return b"S'" + codecs.escape_encode(value)[0] + b"'\n"


def _python2_batch(data, labels):
    """A batch pickled the way Python 2 + numpy 1 wrote the official files (``numpy.core`` names)."""
    shape = b"(I%d\nI3072\ntp4\n" % len(data)
    return b"".join([
        b"(dp0\n", _py2_string(b"data"),
        b"cnumpy.core.multiarray\n_reconstruct\n(cnumpy\nndarray\n(I0\ntp1\n", _py2_string(b"b"), b"tp2\nRp3\n",
        b"(I1\n", shape, b"cnumpy\ndtype\n(", _py2_string(b"u1"), b"I0\nI1\ntp5\nRp6\n",
        b"(I3\n", _py2_string(b"|"), b"NNNI-1\nI-1\nI0\ntp7\nbI00\n", _py2_string(data.tobytes()), b"tp8\nbs",
        _py2_string(b"labels"), b"(lp9\n", b"".join(b"I%d\na" % label for label in labels), b"s.",
    ])


def test_cifar10_reads_python2_pickles(tmp_path):
    folder = tmp_path / "CIFAR_10" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    data = np.random.default_rng(4).integers(0, 256, size=(3, 3072), dtype=np.uint8)
    for name in [f"data_batch_{number}" for number in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(_python2_batch(data, [2, 0, 9]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dataset = Cifar10("test", data_dir=str(tmp_path))
    assert dataset.labels.tolist() == [2, 0, 9]
    image = dataset[2][0]
    assert image[4, 6, 2] == data[2, 2048 + 4 * 32 + 6] and image[0, 31, 1] == data[2, 1024 + 31]


def test_cifar10_validation_and_test_alias(tmp_path):
    _, _, test_rows = _make_cifar10(tmp_path)
    validation = Cifar10("validation", data_dir=str(tmp_path))
    test = Cifar10("test", data_dir=str(tmp_path))
    assert test.subset == "validation"
    assert len(validation) == len(test) == TEST_COUNT
    np.testing.assert_array_equal(validation.labels, np.arange(TEST_COUNT))
    for index in range(TEST_COUNT):
        np.testing.assert_array_equal(validation[index][0], test[index][0])
        assert validation[index][0][0, 0, 0] == test_rows[index, 0]


def test_cifar10_classes():
    assert Cifar10.classes == ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                               "ship", "truck"]


def _first_pixels(dataset):
    return sorted(int(dataset[index][0][0, 0, 0]) for index in range(len(dataset)))


def test_cifar10_train_validation_saving_split(tmp_path):
    _make_cifar10(tmp_path)
    kwargs = {"data_dir": str(tmp_path), "train_validation_saving_size": 5, "seed": 3}
    train = Cifar10("train", **kwargs)
    saving = Cifar10("train_validation_saving", **kwargs)
    assert len(train) == 15 and len(saving) == 5
    train_ids, saving_ids = _first_pixels(train), _first_pixels(saving)
    assert not set(train_ids) & set(saving_ids)
    assert sorted(train_ids + saving_ids) == list(range(20))
    assert _first_pixels(Cifar10("train_validation_saving", **kwargs)) == saving_ids


def test_cifar10_missing_directory_names_path(tmp_path):
    with pytest.raises(DatasetError) as error:
        Cifar10("train", data_dir=str(tmp_path))
    assert os.path.join(str(tmp_path), "CIFAR_10") in str(error.value)
    assert "cifar-10-batches-py" in str(error.value)


def test_cifar10_missing_batch_file_names_it(tmp_path):
    _make_cifar10(tmp_path)
    os.remove(_batch_path(tmp_path, "data_batch_3"))
    with pytest.raises(DatasetError, match="data_batch_3"):
        Cifar10("train", data_dir=str(tmp_path))


def test_cifar10_truncated_pickle_names_file(tmp_path):
    _make_cifar10(tmp_path)
    path = _batch_path(tmp_path, "data_batch_2")
    content = path.read_bytes()
    path.write_bytes(content[:len(content) // 2])
    with pytest.raises(DatasetError, match="data_batch_2"):
        Cifar10("train", data_dir=str(tmp_path))


def test_cifar10_garbage_file_names_file(tmp_path):
    _make_cifar10(tmp_path)
    _batch_path(tmp_path, "test_batch").write_bytes(b"this is not a pickle at all")
    with pytest.raises(DatasetError, match="test_batch"):
        Cifar10("validation", data_dir=str(tmp_path))


@pytest.mark.parametrize("data, expected", [
    (np.zeros((4, 3000), dtype=np.uint8), "3072"),
    (np.zeros((4, 3072), dtype=np.float32), "uint8"),
    (np.zeros((4, 3, 32, 32), dtype=np.uint8), "3072"),
    ([[0] * 3072] * 4, "numpy array"),
])
def test_cifar10_wrong_data_names_file_and_expectation(tmp_path, data, expected):
    _make_cifar10(tmp_path)
    _write_batch(_batch_path(tmp_path, "data_batch_4"), data, [0, 1, 2, 3])
    with pytest.raises(DatasetError) as error:
        Cifar10("train", data_dir=str(tmp_path))
    assert "data_batch_4" in str(error.value) and expected in str(error.value)


def test_cifar10_label_count_mismatch_names_file(tmp_path):
    _make_cifar10(tmp_path)
    _write_batch(_batch_path(tmp_path, "data_batch_5"), np.zeros((4, 3072), np.uint8), [0, 1, 2])
    with pytest.raises(DatasetError, match="data_batch_5.*3 labels.*4 images"):
        Cifar10("train", data_dir=str(tmp_path))


def test_cifar10_label_out_of_range_names_file(tmp_path):
    _make_cifar10(tmp_path)
    _write_batch(_batch_path(tmp_path, "test_batch"), np.zeros((2, 3072), np.uint8), [0, 10])
    with pytest.raises(DatasetError, match=r"test_batch.*label 10.*0\.\.9"):
        Cifar10("test", data_dir=str(tmp_path))


def test_cifar10_missing_labels_key_names_file(tmp_path):
    _make_cifar10(tmp_path)
    with open(_batch_path(tmp_path, "data_batch_1"), "wb") as stream:
        pickle.dump({b"data": np.zeros((1, 3072), np.uint8)}, stream, protocol=2)
    with pytest.raises(DatasetError, match="data_batch_1.*labels"):
        Cifar10("train", data_dir=str(tmp_path))


# ---------------------------------------------------------------------------------------------- CIFAR-100

def test_cifar100_reads_fine_labels_and_images(tmp_path):
    rows, fine = _make_cifar100(tmp_path)
    train = Cifar100("train", data_dir=str(tmp_path))
    assert len(train) == 12 and train.num_classes == 100
    np.testing.assert_array_equal(train.labels, fine)
    image, label = train[1]
    assert label == 99 and Cifar100.classes[label] == "worm"
    assert image.shape == (32, 32, 3) and image.dtype == np.uint8
    assert image[2, 30, 1] == rows[1, 1024 + 2 * 32 + 30]
    assert image[31, 31, 2] == rows[1, 3071]
    assert len(Cifar100("test", data_dir=str(tmp_path))) == 5


def test_cifar100_classes_match_official_meta_order():
    classes = Cifar100.classes
    assert len(classes) == 100 == len(set(classes))
    assert classes == sorted(classes)
    assert classes[:3] == ["apple", "aquarium_fish", "baby"]
    assert classes[-1] == "worm" and classes[58] == "pickup_truck"


def test_cifar100_fine_label_out_of_range_names_file(tmp_path):
    _make_cifar100(tmp_path)
    path = tmp_path / "CIFAR_100" / "cifar-100-python" / "train"
    _write_batch(path, np.zeros((2, 3072), np.uint8), [5, 100], label_key=b"fine_labels")
    with pytest.raises(DatasetError, match=r"train.*label 100.*0\.\.99"):
        Cifar100("train", data_dir=str(tmp_path))


def test_cifar100_missing_directory_names_path(tmp_path):
    with pytest.raises(DatasetError) as error:
        Cifar100("train", data_dir=str(tmp_path / "nowhere"))
    assert os.path.join(str(tmp_path / "nowhere"), "CIFAR_100") in str(error.value)


# ---------------------------------------------------------------------------------------------- safe pickle

class _RunsCommand:
    """Pickles as a call of an arbitrary function: what a malicious dataset file would contain."""

    def __init__(self, function, argument):
        self.function, self.argument = function, argument

    def __reduce__(self):
        return self.function, (self.argument,)


@pytest.mark.parametrize("function, name", [(os.system, ".system'"), (eval, ".eval'")])
def test_forbidden_global_is_rejected_without_executing(tmp_path, function, name):
    marker = tmp_path / "executed"
    command = f"touch {marker}" if function is os.system else f"open({str(marker)!r}, 'w').close()"
    path = tmp_path / "evil_batch"
    with open(path, "wb") as stream:
        pickle.dump({b"data": _RunsCommand(function, command), b"labels": [0]}, stream, protocol=2)
    with pytest.raises(DatasetError) as error:
        load_pickle(str(path))
    assert "evil_batch" in str(error.value) and name in str(error.value)
    assert not marker.exists()


def test_forbidden_global_in_cifar_batch_is_rejected(tmp_path):
    _make_cifar10(tmp_path)
    marker = tmp_path / "executed"
    path = _batch_path(tmp_path, "data_batch_2")
    with open(path, "wb") as stream:
        pickle.dump({b"data": _RunsCommand(os.system, f"touch {marker}"), b"labels": []}, stream, protocol=4)
    with pytest.raises(DatasetError, match="data_batch_2.*forbidden global"):
        Cifar10("train", data_dir=str(tmp_path))
    assert not marker.exists()


def test_load_pickle_returns_bytes_keys_and_arrays(tmp_path):
    path = tmp_path / "batch"
    data = np.arange(6, dtype=np.uint8).reshape(2, 3)
    _write_batch(path, data, [1, 2])
    batch = load_pickle(str(path))
    assert batch[b"labels"] == [1, 2] and batch[b"batch_label"] == b"training batch"
    np.testing.assert_array_equal(batch[b"data"], data)


def test_load_pickle_missing_file_names_it(tmp_path):
    with pytest.raises(DatasetError, match="no_such_batch"):
        load_pickle(str(tmp_path / "no_such_batch"))
