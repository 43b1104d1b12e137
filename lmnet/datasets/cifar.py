"""Reading the CIFAR-10 / CIFAR-100 "python version" batches (shared by both datasets).

Each batch is a pickled dict whose ``data`` entry is a ``uint8`` array of shape ``(N, 3072)``: one row
per image holding the red plane, then the green plane, then the blue plane of a 32x32 image, each
plane in row-major order. The labels are a list of ``N`` ints under a dataset-specific key.
"""
import os

import numpy as np

from lmnet.datasets.base import Dataset
from lmnet.datasets.safe_pickle import load_pickle
from lmnet.errors import DatasetError

IMAGE_SIZE = 32
ROW_LENGTH = 3 * IMAGE_SIZE * IMAGE_SIZE


def _entry(batch, key, path):
    """Returns ``batch[key]`` accepting ``bytes`` (official files) or ``str`` keys."""
    if not isinstance(batch, dict):
        raise DatasetError(f"{path}: expected a pickled dict (CIFAR batch), found {type(batch).__name__}")
    for candidate in (key.encode("ascii"), key):
        if candidate in batch:
            return batch[candidate]
    raise DatasetError(f"{path}: CIFAR batch has no '{key}' entry")


def _check_data(data, path):
    """Checks the image rows: a ``uint8`` array of shape ``(N, 3072)``."""
    if not isinstance(data, np.ndarray):
        raise DatasetError(f"{path}: 'data' must be a numpy array of uint8 with shape (N, {ROW_LENGTH}), "
                           f"found {type(data).__name__}")
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != ROW_LENGTH:
        raise DatasetError(f"{path}: 'data' must be uint8 with shape (N, {ROW_LENGTH}), "
                           f"found {data.dtype} with shape {data.shape}")


def _check_labels(labels, count, num_classes, path, label_key):
    """Converts the labels to ``int64`` and checks their number and range."""
    try:
        array = np.asarray(labels)
    except (TypeError, ValueError):
        array = np.asarray([], dtype=object)
    if array.ndim != 1 or (array.size and not np.issubdtype(array.dtype, np.integer)):
        raise DatasetError(f"{path}: '{label_key}' must be a list of {count} integers")
    if len(array) != count:
        raise DatasetError(f"{path}: '{label_key}' has {len(array)} labels but 'data' has {count} images")
    if array.size and (array.min() < 0 or array.max() >= num_classes):
        bad = int(array[(array < 0) | (array >= num_classes)][0])
        raise DatasetError(f"{path}: label {bad} in '{label_key}' is out of range; expected 0..{num_classes - 1}")
    return array.astype(np.int64)


def rows_to_images(data):
    """Turns CIFAR rows ``(N, 3072)`` (R plane, G plane, B plane) into RGB images ``(N, 32, 32, 3)``.

    Args:
        data: ``uint8`` array of shape ``(N, 3072)``.

    Returns:
        C-contiguous ``uint8`` array of shape ``(N, 32, 32, 3)``.
    """
    planes = data.reshape(-1, 3, IMAGE_SIZE, IMAGE_SIZE)
    return np.ascontiguousarray(planes.transpose(0, 2, 3, 1))


def read_cifar_batch(path, label_key, num_classes):
    """Reads and validates one CIFAR batch file.

    Args:
        path: the batch file (e.g. ``data_batch_1`` or ``train``).
        label_key: name of the labels entry (``"labels"`` or ``"fine_labels"``).
        num_classes: labels must lie in ``[0, num_classes)``.

    Returns:
        ``(images, labels)``: ``uint8`` ``(N, 32, 32, 3)`` and ``int64`` ``(N,)``.

    Raises:
        DatasetError: the file is missing, unsafe or malformed; the message names it and what was expected.
    """
    batch = load_pickle(path)
    data = _entry(batch, "data", path)
    _check_data(data, path)
    labels = _check_labels(_entry(batch, label_key, path), len(data), num_classes, path, label_key)
    return rows_to_images(data), labels


class CifarDataset(Dataset):
    """Common reader of the CIFAR python batches; subclasses name the files.

    Samples are RGB ``uint8`` images of shape ``(32, 32, 3)``; ``validation`` (alias ``test``) is the
    official test data.

    Args:
        subset: ``"train"``, ``"validation"`` (or ``"test"``) or ``"train_validation_saving"``.
        data_dir: root of the datasets.
        train_validation_saving_size: number of training samples held out as ``train_validation_saving``.
        seed: seed of the held-out split.

    Class attributes that subclasses set (besides ``classes``, ``extend_dir`` and ``layout``):
        batch_dir: folder inside ``extend_dir`` holding the batch files.
        train_files: batch files of the training data, in order.
        validation_files: batch files of the test data.
        label_key: key of the labels in each batch.
    """

    batch_dir = ""
    train_files = ()
    validation_files = ()
    label_key = "labels"

    def _read_subset(self, subset):
        """Reads and concatenates the batch files of ``"train"`` or ``"validation"``."""
        folder = os.path.join(self.root, self.batch_dir)
        if not os.path.isdir(folder):
            raise DatasetError(f"{type(self).__name__}: directory {folder} not found; expected {self.layout}")
        names = self.train_files if subset == "train" else self.validation_files
        parts = [read_cifar_batch(os.path.join(folder, name), self.label_key, len(self.classes)) for name in names]
        images = np.concatenate([images for images, _ in parts])
        labels = np.concatenate([labels for _, labels in parts])
        return images, labels
