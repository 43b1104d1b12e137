"""The common base of every dataset.

A dataset is a random-access list of samples of one subset. Subsets are ``train``,
``validation`` (alias ``test``) and ``train_validation_saving``: when
``train_validation_saving_size > 0`` that many samples of the training data, chosen with a
fixed seed, are held out of ``train`` and form ``train_validation_saving``.

Subclasses implement :meth:`Dataset._read_subset` (what the samples are) and, when samples are
not already arrays in memory, :meth:`Dataset._load_item` (how one is read).
"""
import os

import numpy as np

from lmnet.errors import DatasetError

SUBSET_ALIASES = {"test": "validation"}


class Dataset:
    """Base of all datasets.

    Class attributes that subclasses set:
        classes: list of class names in label order (may be empty when read from the data).
        extend_dir: folder under ``data_dir`` holding the data (``None`` for embedded data).
        layout: one line describing the files expected in that folder, used in errors.

    Args:
        subset: ``"train"``, ``"validation"`` (or ``"test"``) or ``"train_validation_saving"``.
        data_dir: root of the datasets (``Environment.data_dir``).
        train_validation_saving_size: number of training samples held out as
            ``train_validation_saving``.
        seed: seed of the held-out split.
        extend_dir: folder under ``data_dir`` holding the files, when it is not the class's
            ``extend_dir`` (refused by embedded datasets, which have no folder).
    """

    classes = ()
    extend_dir = None
    layout = ""
    available_subsets = ("train", "validation", "train_validation_saving")
    #: Name of the target in the sample dict the processors see (``"label"`` or ``"gt_boxes"``).
    target_key = "label"

    def __init__(self, subset="train", data_dir="dataset", train_validation_saving_size=0, seed=0, extend_dir=None):
        if extend_dir is not None:
            if type(self).extend_dir is None:
                raise DatasetError(f"{type(self).__name__}: extend_dir={extend_dir!r} given, but this dataset is "
                                   "embedded and reads no folder")
            self.extend_dir = extend_dir
        subset = SUBSET_ALIASES.get(subset, subset)
        if subset not in self.available_subsets:
            raise DatasetError(f"{type(self).__name__}: unknown subset '{subset}'; "
                               f"expected one of {', '.join(self.available_subsets)} (or 'test')")
        if subset == "train_validation_saving" and train_validation_saving_size <= 0:
            raise DatasetError(f"{type(self).__name__}: subset 'train_validation_saving' needs "
                               "TRAIN_VALIDATION_SAVING_SIZE > 0")
        self.subset = subset
        self.data_dir = data_dir
        self.train_validation_saving_size = int(train_validation_saving_size)
        self.seed = seed
        read_subset = "validation" if subset == "validation" else "train"
        items, targets = self._read_subset(read_subset)
        if len(items) != len(targets):
            raise DatasetError(f"{type(self).__name__}: {len(items)} samples but {len(targets)} targets")
        if len(items) == 0:
            raise DatasetError(f"{type(self).__name__}: the {read_subset} subset has no samples "
                               f"({self._empty_subset_hint(read_subset)}); every subset needs at least one")
        self._items = items
        self._targets = self._prepare_targets(targets)
        self._indices = self._subset_indices(len(self._targets))

    @property
    def root(self):
        """The folder holding this dataset's files, checked to exist.

        Raises:
            DatasetError: the folder is missing; the message names the path and the layout.
        """
        if self.extend_dir is None:
            raise DatasetError(f"{type(self).__name__} is embedded and has no dataset directory")
        path = os.path.join(self.data_dir, self.extend_dir)
        if not os.path.isdir(path):
            raise DatasetError(f"{type(self).__name__}: dataset directory {path} not found; expected {self.layout}. "
                               "Set DATA_DIR to the folder that holds it.")
        return path

    @property
    def num_classes(self):
        """Number of classes."""
        return len(self.classes)

    @property
    def labels(self):
        """Class labels of this subset's samples, in sample order (classification)."""
        return self._targets[self._indices]

    def __len__(self):
        return len(self._indices)

    def __getitem__(self, index):
        """Returns ``(image, target)``: RGB ``uint8`` ``(height, width, 3)`` and the target
        (an ``int`` label for classification)."""
        return self.image(index), self.target(index)

    def image(self, index):
        """The RGB ``uint8`` image of sample ``index`` (read or generated now)."""
        return self._load_item(self._items[self._indices[index]])

    def target(self, index):
        """The target of sample ``index``, without reading its image."""
        return self._target(self._indices[index])

    def item_identity(self, index):
        """Names where sample ``index`` comes from, for cache keys (:mod:`lmnet.datasets.cache`).

        A file item is named by its absolute path, size and modification time, so an edited file gets
        another name; any other item by the subset and its position in the raw data.
        """
        position = int(self._indices[index])
        item = self._items[position]
        if isinstance(item, (str, os.PathLike)):
            path = os.path.abspath(os.fspath(item))
            try:
                stat = os.stat(path)
            except OSError:
                return f"file:{path}"
            return f"file:{path}:{stat.st_size}:{stat.st_mtime_ns}"
        read_subset = "validation" if self.subset == "validation" else "train"
        return f"position:{read_subset}:{position}"

    def _prepare_targets(self, targets):
        """Checks and stores the raw targets (class labels as ``int64`` by default)."""
        return np.asarray(targets, dtype=np.int64)

    def _target(self, position):
        """The target of raw sample ``position`` (the ``int`` label by default)."""
        return int(self._targets[position])

    def _subset_indices(self, total):
        """Indices of the raw training or validation data that form this subset."""
        if self.subset == "validation" or self.train_validation_saving_size <= 0:
            return np.arange(total)
        if self.train_validation_saving_size >= total:
            raise DatasetError(f"{type(self).__name__}: TRAIN_VALIDATION_SAVING_SIZE "
                               f"{self.train_validation_saving_size} must be below the {total} training samples")
        order = np.random.default_rng(self.seed).permutation(total)
        held_out = np.sort(order[:self.train_validation_saving_size])
        if self.subset == "train_validation_saving":
            return held_out
        return np.sort(order[self.train_validation_saving_size:])

    def _empty_subset_hint(self, subset):
        """Says where the raw ``subset`` data came from when it is empty (the dataset folder by default)."""
        if self.extend_dir is None:
            return "generated data"
        return f"read from {os.path.join(self.data_dir, self.extend_dir)}"

    def _read_subset(self, subset):
        """Returns ``(items, targets)`` of the raw ``"train"`` or ``"validation"`` data.

        ``items`` is indexable: a ``uint8`` array of images, or anything :meth:`_load_item` reads.
        """
        raise NotImplementedError

    def _load_item(self, item):
        """Turns one item of :meth:`_read_subset` into an RGB ``uint8`` image (identity by default)."""
        return item


class RatioSplit:
    """Mixin of datasets whose ``validation`` subset is a seeded fraction of the data (no split files).

    Put it before the dataset base class: ``class ImageFolder(RatioSplit, Dataset)``. The subclass's
    ``_read_subset`` splits with ``self.validation_ratio`` and ``self.split_seed``.

    Args:
        *args: the positional arguments of the dataset base class (``subset``, ``data_dir``, ...).
        validation_ratio: fraction of the data used for validation, in ``[0, 1)``.
        split_seed: seed of that validation split.
        **kwargs: the other arguments of the dataset base class.
    """

    def __init__(self, *args, validation_ratio=0.1, split_seed=0, **kwargs):
        if not 0 <= validation_ratio < 1:
            raise DatasetError(f"{type(self).__name__}: validation_ratio must be in [0, 1), got {validation_ratio}")
        self.validation_ratio = validation_ratio
        self.split_seed = split_seed
        super().__init__(*args, **kwargs)


class GeneratedSamples:
    """Mixin of the embedded datasets whose samples are generated from a seed (no files, no folder).

    Put it before the dataset base class: ``class SyntheticShapes(GeneratedSamples, Dataset)``. The
    subclass sets ``default_image_size``, ``default_num_train``, ``default_num_validation`` and
    ``min_side`` (the smallest image side it can draw), and its ``_read_subset`` generates
    :meth:`subset_total` samples.

    Args:
        *args: the positional arguments of the dataset base class (``subset``, ``data_dir``, which is
            unused, ...); ``seed`` seeds the samples as well as the held-out split.
        image_size: ``(height, width)`` of the images (default ``default_image_size``).
        num_train: number of training samples before holding any out (default ``default_num_train``).
        num_validation: number of validation samples (default ``default_num_validation``).
        **kwargs: the other arguments of the dataset base class.
    """

    extend_dir = None
    layout = "nothing (the samples are generated from the seed)"
    default_image_size = (32, 32)
    default_num_train = 1000
    default_num_validation = 100
    min_side = 4

    def __init__(self, *args, image_size=None, num_train=None, num_validation=None, **kwargs):
        image_size = self.default_image_size if image_size is None else image_size
        self.image_size = (int(image_size[0]), int(image_size[1]))
        if min(self.image_size) < self.min_side:
            raise DatasetError(f"{type(self).__name__}: image_size {image_size} is too small; use at least "
                               f"({self.min_side}, {self.min_side})")
        self.num_train = int(self.default_num_train if num_train is None else num_train)
        self.num_validation = int(self.default_num_validation if num_validation is None else num_validation)
        super().__init__(*args, **kwargs)

    def subset_total(self, subset):
        """Number of generated samples of the raw ``"train"`` or ``"validation"`` data."""
        return self.num_train if subset == "train" else self.num_validation

    def _empty_subset_hint(self, subset):
        """Names the option that set the size of the empty ``subset``."""
        return f"DATASET.OPTIONS has num_{subset}={self.subset_total(subset)}"
