"""MNIST handwritten digits, read from the original idx files (plain or gzipped).

The idx format: a 4-byte big-endian magic number ``0x0000TTDD`` (``TT`` = 0x08 for unsigned bytes,
``DD`` = number of dimensions), one big-endian 32-bit size per dimension, then the values in row-major
order. Images are ``0x00000803`` (count, rows, columns); labels are ``0x00000801`` (count).
"""
import gzip
import os
import struct
import zlib

import numpy as np

from lmnet.datasets.base import Dataset
from lmnet.errors import DatasetError

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801

_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "validation": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _read_bytes(path):
    """Returns the content of a file, decompressed when its name ends in ``.gz``."""
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as stream:
                return stream.read()
        with open(path, "rb") as stream:
            return stream.read()
    except FileNotFoundError:
        raise DatasetError(f"{path}: file not found") from None
    except EOFError:
        raise DatasetError(f"{path}: gzip data is truncated") from None
    except (OSError, zlib.error) as error:
        raise DatasetError(f"{path}: cannot read file ({error})") from None


def parse_idx(content, expected_magic, path):
    """Parses an idx file of unsigned bytes.

    Args:
        content: the (decompressed) bytes of the file.
        expected_magic: ``IMAGES_MAGIC`` or ``LABELS_MAGIC``.
        path: name of the file, used in error messages.

    Returns:
        ``uint8`` array whose shape is the dimensions in the header.

    Raises:
        DatasetError: wrong magic number, a sample dimension of 0 (an image with no rows or columns), or
            header and data size disagree; the message names the file.
    """
    if len(content) < 4:
        raise DatasetError(f"{path}: truncated idx file ({len(content)} bytes, no complete header)")
    (magic,) = struct.unpack(">I", content[:4])
    if magic != expected_magic:
        raise DatasetError(f"{path}: bad idx magic number 0x{magic:08x}; expected 0x{expected_magic:08x}")
    ndim = magic & 0xFF
    header_size = 4 + 4 * ndim
    if len(content) < header_size:
        raise DatasetError(f"{path}: truncated idx header ({len(content)} bytes, expected {header_size})")
    dims = struct.unpack(f">{ndim}I", content[4:header_size])
    if 0 in dims[1:]:
        raise DatasetError(f"{path}: idx header gives each sample the shape {dims[1:]}; every dimension after the "
                           "count (rows, columns) must be at least 1")
    expected = int(np.prod(dims, dtype=np.int64))
    found = len(content) - header_size
    if found < expected:
        raise DatasetError(f"{path}: truncated idx data: header {dims} needs {expected} bytes, found {found}")
    if found > expected:
        raise DatasetError(f"{path}: idx data has {found - expected} bytes more than header {dims} describes")
    return np.frombuffer(content, dtype=np.uint8, offset=header_size).reshape(dims)


class Mnist(Dataset):
    """MNIST digits as RGB ``uint8`` images of shape ``(28, 28, 3)`` (the gray value in all channels).

    Reads ``DATA_DIR/MNIST/{train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
    t10k-labels-idx1-ubyte}``, each plain or with ``.gz``. ``validation`` (alias ``test``) is the t10k set.
    Get the data with ``lmnet.datasets.download.fetch_dataset("mnist", DATA_DIR)``.

    Args:
        subset: ``"train"``, ``"validation"`` (or ``"test"``) or ``"train_validation_saving"``.
        data_dir: root of the datasets.
        train_validation_saving_size: number of training samples held out as ``train_validation_saving``.
        seed: seed of the held-out split.
    """

    classes = [str(digit) for digit in range(10)]
    extend_dir = "MNIST"
    layout = ("MNIST/ holding train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and "
              "t10k-labels-idx1-ubyte (each plain or .gz)")

    def _find_file(self, name):
        """Returns the path of ``name`` or ``name.gz`` (plain preferred)."""
        plain = os.path.join(self.root, name)
        for candidate in (plain, plain + ".gz"):
            if os.path.isfile(candidate):
                return candidate
        raise DatasetError(f"{type(self).__name__}: neither {plain} nor {plain}.gz found; expected {self.layout}")

    def _empty_subset_hint(self, subset):
        """Names the images file of the empty ``subset``."""
        return f"read from {self._find_file(_FILES[subset][0])}"

    def _read_subset(self, subset):
        """Reads images and labels of ``"train"`` or ``"validation"``."""
        images_name, labels_name = _FILES[subset]
        images_path, labels_path = self._find_file(images_name), self._find_file(labels_name)
        images = parse_idx(_read_bytes(images_path), IMAGES_MAGIC, images_path)
        labels = parse_idx(_read_bytes(labels_path), LABELS_MAGIC, labels_path)
        if len(images) != len(labels):
            raise DatasetError(f"{images_path} holds {len(images)} images but {labels_path} holds "
                               f"{len(labels)} labels")
        if labels.size and labels.max() >= len(self.classes):
            raise DatasetError(f"{labels_path}: label {int(labels.max())} is out of range; expected 0..9")
        return np.repeat(images[..., np.newaxis], 3, axis=-1), labels.astype(np.int64)
