"""Classification images stored as one folder per class.

Two layouts are understood under ``DATA_DIR/<extend_dir>/``:

* ``<class>/<image>``: every image is training data; a stratified, seeded fraction
  (``validation_ratio``) of each class is set aside as ``validation``.
* ``train/<class>/<image>`` plus ``validation/<class>/<image>`` (or ``test/``): the subsets as given.

Classes are the sorted names of the class folders (of ``train/`` in the second layout).
"""
import math
import os

import numpy as np

from lmnet.datasets.base import Dataset, RatioSplit
from lmnet.errors import DatasetError
from lmnet.image_io import load_image

#: File extensions (lower case) read as images; matching ignores case.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")
VALIDATION_FOLDERS = ("validation", "test")


def _visible_entries(folder):
    """Sorted names in ``folder``, without hidden ones."""
    return sorted(name for name in os.listdir(folder) if not name.startswith("."))


def list_class_folders(folder):
    """Sorted names of the (non-hidden) sub-folders of ``folder``.

    Raises:
        DatasetError: there is none; the message names the folder.
    """
    names = [name for name in _visible_entries(folder) if os.path.isdir(os.path.join(folder, name))]
    if not names:
        raise DatasetError(f"{folder}: no class folders found; expected one folder of images per class")
    return names


def list_images(folder):
    """Sorted paths of the image files directly in ``folder`` (extension matched case-insensitively).

    Raises:
        DatasetError: the folder holds no image; the message names it.
    """
    paths = [os.path.join(folder, name) for name in _visible_entries(folder)
             if name.lower().endswith(IMAGE_EXTENSIONS) and os.path.isfile(os.path.join(folder, name))]
    if not paths:
        raise DatasetError(f"{folder}: class folder holds no images (extensions {', '.join(IMAGE_EXTENSIONS)})")
    return paths


def validation_count(total, ratio):
    """Number of a class's ``total`` images set aside for validation.

    That is ``ratio`` of them rounded half up, but always leaving at least one image for training.
    """
    return max(0, min(int(math.floor(total * ratio + 0.5)), total - 1))


def stratified_split(paths_per_class, ratio, seed):
    """Splits each class's files into training and validation, deterministically.

    Args:
        paths_per_class: one list of file paths per class, in label order.
        ratio: fraction of each class set aside for validation.
        seed: seed of the random choice.

    Returns:
        ``{"train": (paths, labels), "validation": (paths, labels)}``, each sorted by label then path.
    """
    rng = np.random.default_rng(seed)
    subsets = {"train": ([], []), "validation": ([], [])}
    for label, paths in enumerate(paths_per_class):
        order = rng.permutation(len(paths))
        held_out = set(order[:validation_count(len(paths), ratio)].tolist())
        for index, path in enumerate(paths):
            items, labels = subsets["validation" if index in held_out else "train"]
            items.append(path)
            labels.append(label)
    return subsets


class ImageFolder(RatioSplit, Dataset):
    """Images in one folder per class, under ``DATA_DIR/<extend_dir>/``.

    Items are file paths; each is read with :func:`lmnet.image_io.load_image` when accessed, so an
    unreadable file raises :class:`~lmnet.errors.DatasetError` naming it at that point.

    Arguments are those of :class:`lmnet.datasets.base.RatioSplit`: without a ``train/`` + ``validation/``
    (or ``test/``) layout, ``validation_ratio`` of each class is used for validation.
    """

    extend_dir = "image_folder"
    layout = ("<class name>/<image files> folders (jpg, jpeg, png, bmp, gif, webp), or train/<class name>/ "
              "with validation/<class name>/ (or test/<class name>/)")

    def _split_folders(self):
        """``(train folder, validation folder)`` when the data is pre-split, else ``None``."""
        train = os.path.join(self.root, "train")
        if not os.path.isdir(train):
            return None
        for name in VALIDATION_FOLDERS:
            validation = os.path.join(self.root, name)
            if os.path.isdir(validation):
                return train, validation
        return None

    def _read_subset(self, subset):
        """Lists the image paths and labels of ``"train"`` or ``"validation"`` and sets ``self.classes``."""
        folders = self._split_folders()
        if folders is None:
            items, labels = self._read_ratio_split(subset)
        else:
            items, labels = self._read_presplit(subset, *folders)
        if not items:
            raise DatasetError(f"ImageFolder: no {subset} images under {self.root}; set validation_ratio > 0 "
                               "or add a validation/ folder")
        return items, np.asarray(labels, dtype=np.int64)

    def _read_ratio_split(self, subset):
        """Splits ``<class>/`` folders by ``validation_ratio``."""
        self.classes = list_class_folders(self.root)
        paths_per_class = [list_images(os.path.join(self.root, name)) for name in self.classes]
        return stratified_split(paths_per_class, self.validation_ratio, self.split_seed)[subset]

    def _read_presplit(self, subset, train_folder, validation_folder):
        """Reads ``train/<class>/`` or ``validation/<class>/``; classes come from ``train/``."""
        self.classes = list_class_folders(train_folder)
        folder = train_folder if subset == "train" else validation_folder
        names = list_class_folders(folder)
        unknown = [name for name in names if name not in self.classes]
        if unknown:
            raise DatasetError(f"{os.path.join(folder, unknown[0])}: class folder has no counterpart in "
                               f"{train_folder}; classes are {', '.join(self.classes)}")
        items, labels = [], []
        for name in names:
            paths = list_images(os.path.join(folder, name))
            items.extend(paths)
            labels.extend([self.classes.index(name)] * len(paths))
        return items, labels

    @property
    def paths(self):
        """File paths of this subset's samples, in sample order."""
        return [self._items[position] for position in self._indices]

    def _load_item(self, item):
        """Reads one image file as RGB ``uint8``."""
        return load_image(item)
