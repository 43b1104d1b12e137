"""An on-disk cache of decoded or pre-processed samples (``DATASET.CACHE_DIR``).

Decoding JPEG files (or drawing generated scenes) and resizing them is most of the cost of an epoch;
with a cache directory each sample is computed once and read back as a NumPy file afterwards. A
:class:`SampleCache` keeps one of two kinds of entries:

* **decoded** (no ``pre_processor`` given): the RGB ``uint8`` image as the dataset returns it, in
  ``<key>.npy``. The training pipeline uses these, because the random augmentation that follows must
  run on every visit;
* **processed** (``pre_processor`` given): the image and target after the pre-processor, in
  ``<key>.npz``; evaluation uses these (it has no augmentor).

Entries live under ``<directory>/<fingerprint>/``, where the fingerprint hashes everything that
decides their content: the cache format version, the dataset class, subset, data folder, seed,
held-out size and constructor options, the kind of entry and the pre-processor's serialized form.
``fingerprint.json`` in that folder spells them out. A changed config therefore uses another
folder and never reads stale entries. Within it each entry's name hashes where the sample comes
from (:meth:`lmnet.datasets.base.Dataset.item_identity`: the image file with its size and
modification time, or the subset and position) and, for processed entries, the raw target, so an
edited image or annotation is computed afresh too. Old folders are never deleted automatically;
remove the directory to reclaim the space.

Entries are written to a temporary file in the same folder and renamed into place
(:func:`os.replace`), so concurrent readers and writers, and processes killed mid-write, never see
a partial entry (a killed writer may leave a ``.tmp-*`` file behind, which is never read). An entry
that cannot be read back (truncated, corrupt, wrong content) is deleted and computed again. Files
are read with ``allow_pickle=False``: nothing in the cache can run code.
"""
import hashlib
import json
import os
import tempfile
import threading
import warnings
import zipfile

import numpy as np

from lmnet.errors import DatasetError

#: Bumped whenever the entry format changes, so older entries are not read.
CACHE_FORMAT_VERSION = 1
#: Errors ``np.load`` raises on a missing, truncated or corrupt file.
_READ_ERRORS = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile)


def _hash(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def describe(dataset, options=None, pre_processor=None):
    """What the entries of a cache depend on, as a JSON-friendly dict.

    Args:
        dataset: the :class:`lmnet.datasets.base.Dataset`.
        options: the dataset's extra constructor arguments (``DATASET.OPTIONS``).
        pre_processor: the processor applied before caching, or ``None`` for decoded images.
    """
    cls = type(dataset)
    return {
        "version": CACHE_FORMAT_VERSION,
        "dataset": f"{cls.__module__}.{cls.__qualname__}",
        "subset": dataset.subset,
        "data_dir": os.path.abspath(os.fspath(dataset.data_dir)),
        "seed": _plain(dataset.seed),
        "train_validation_saving_size": dataset.train_validation_saving_size,
        "options": _plain(dict(options or {})),
        "kind": "decoded" if pre_processor is None else "processed",
        "pre_processor": None if pre_processor is None else pre_processor.to_dict(),
    }


def _plain(value):
    """``value`` with tuples as lists and anything JSON cannot hold as its ``repr``."""
    return json.loads(json.dumps(value, sort_keys=True, default=repr))


def fingerprint(description):
    """A short stable hash of :func:`describe`'s dict (the name of the cache folder)."""
    return _hash(json.dumps(description, sort_keys=True))[:20]


class SampleCache:
    """Decoded images or pre-processed samples of one dataset, cached as NumPy files.

    Args:
        directory: the cache root (``DATASET.CACHE_DIR``); created when missing.
        dataset: the :class:`lmnet.datasets.base.Dataset` whose samples are cached.
        options: the dataset's extra constructor arguments (``DATASET.OPTIONS``), part of the fingerprint.
        pre_processor: cache samples after this processor (evaluation); ``None`` caches decoded images.

    Attributes:
        folder: the folder of this fingerprint's entries.
        stats: counts of ``hits``, ``misses`` (no entry yet) and ``recreated`` (an unreadable entry, deleted
            and computed again).

    Raises:
        DatasetError: the directory cannot be created or written; the message names it.
    """

    def __init__(self, directory, dataset, options=None, pre_processor=None):
        self.dataset = dataset
        self.pre_processor = pre_processor
        self.description = describe(dataset, options, pre_processor)
        self.folder = os.path.join(os.fspath(directory), fingerprint(self.description))
        self.stats = {"hits": 0, "misses": 0, "recreated": 0}
        self._lock = threading.Lock()
        self._write_failed = False
        try:
            os.makedirs(self.folder, exist_ok=True)
            self._write_description()
        except OSError as error:
            raise DatasetError(f"DATASET.CACHE_DIR {directory}: cannot create the cache folder {self.folder} "
                               f"({error})") from None

    @property
    def processed(self):
        """Whether entries are pre-processed samples (else decoded images)."""
        return self.pre_processor is not None

    def _write_description(self):
        path = os.path.join(self.folder, "fingerprint.json")
        if not os.path.isfile(path):
            text = json.dumps(self.description, indent=2, sort_keys=True).encode("utf-8")
            _write_atomic(path, lambda stream: stream.write(text))

    def entry_path(self, index, target=None):
        """The file of sample ``index``'s entry (``target``: the raw target, for processed entries)."""
        parts = [self.dataset.item_identity(index)]
        if self.processed:
            target = np.asarray(target)
            parts += [target.dtype.str, repr(target.shape), hashlib.sha256(target.tobytes()).hexdigest()]
        key = _hash("\0".join(parts))
        return os.path.join(self.folder, key[:2], key[2:32] + (".npz" if self.processed else ".npy"))

    def image(self, index):
        """The decoded image of sample ``index`` (decoded entries), read from the cache or decoded and stored."""
        if self.processed:
            raise RuntimeError("this cache holds pre-processed samples; use sample()")
        path = self.entry_path(index)
        image = self._read(path, _read_image)
        if image is None:
            image = np.asarray(self.dataset.image(index))
            self._write(path, lambda stream: np.save(stream, image, allow_pickle=False))
        return image

    def sample(self, index, compute):
        """The pre-processed ``(image, target)`` of sample ``index`` (processed entries).

        Args:
            index: the sample.
            compute: called as ``compute(image, target)`` with the raw sample on a miss; returns the
                processed ``(image, target)``.
        """
        if not self.processed:
            raise RuntimeError("this cache holds decoded images; use image()")
        target = self.dataset.target(index)
        path = self.entry_path(index, target)
        cached = self._read(path, _read_sample)
        if cached is not None:
            return cached
        image, processed_target = compute(self.dataset.image(index), target)
        image, processed_target = np.asarray(image), np.asarray(processed_target)
        self._write(path, lambda stream: np.savez(stream, image=image, target=processed_target))
        return image, processed_target

    def _count(self, name):
        with self._lock:
            self.stats[name] += 1

    def _read(self, path, reader):
        """The entry at ``path`` read by ``reader``, or ``None`` when absent or unreadable (then deleted)."""
        try:
            value = reader(path)
        except FileNotFoundError:
            self._count("misses")
            return None
        except _READ_ERRORS:
            self._count("recreated")
            _remove(path)
            return None
        self._count("hits")
        return value

    def _write(self, path, write):
        """Stores an entry atomically; a failure to write warns once and leaves the sample uncached."""
        if self._write_failed:
            return
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            _write_atomic(path, write)
        except OSError as error:
            self._write_failed = True
            warnings.warn(f"DATASET.CACHE_DIR: cannot write {path} ({error}); continuing without caching new samples",
                          RuntimeWarning, stacklevel=2)


def _read_image(path):
    """A decoded entry: an RGB ``uint8`` image; anything else raises ``ValueError``."""
    image = np.load(path, allow_pickle=False)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{path}: not an RGB uint8 image ({image.dtype}, {image.shape})")
    return image


def _read_sample(path):
    """A processed entry: ``(image, target)``; a missing array raises ``KeyError``."""
    with np.load(path, allow_pickle=False) as entry:
        return entry["image"], entry["target"]


def _write_atomic(path, write):
    """Writes a file through ``write(stream)`` into a temporary file renamed to ``path`` when complete."""
    folder, name = os.path.split(path)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.splitext(name)[1])
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
        os.replace(temporary, path)
    except BaseException:
        _remove(temporary)
        raise


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass
