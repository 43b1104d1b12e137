"""The common base of object-detection datasets, and the policy for bad annotations.

A detection sample is an RGB ``uint8`` image and its ground-truth boxes ``[max_boxes, 5]`` float32
rows ``(x, y, w, h, class_id)`` in pixels, padded with rows whose class_id is ``-1``
(the project's data conventions). Each sample's full :class:`Annotation` also keeps the boxes that training
leaves out but evaluation needs: PASCAL VOC ``difficult`` objects and COCO crowd regions, both
flagged ``ignore``.

Detection datasets keep their annotations in an :class:`AnnotationStore`: a few flat arrays for the
whole subset (about 25 bytes per box and 20 per image, against about 1 KB per image for a list of
:class:`Annotation` objects), from which :meth:`DetectionDataset.annotation` rebuilds one
:class:`Annotation` on demand.

Bad annotations: boxes are clipped to the image; a box with zero or negative size after clipping,
an unknown class name, a missing image file or one that cannot be read is a :class:`DatasetError`
naming the file, unless the dataset is built with ``skip_bad_annotations=True``, which drops them and
prints one summary line with the counts. Skipping decodes every image once while the dataset is built,
so that one that cannot be decoded is dropped then rather than stopping training later.
"""
import array
import collections
import dataclasses
import os

import numpy as np
from PIL import Image

from lmnet.boxes import clip_xywh
from lmnet.datasets.base import Dataset
from lmnet.errors import DatasetError
from lmnet.image_io import load_image


@dataclasses.dataclass
class Annotation:
    """The ground truth of one image.

    Attributes:
        boxes: ``float32 [N, 4]`` boxes ``(x, y, w, h)`` in pixels.
        class_ids: ``int64 [N]`` indices into ``classes``.
        ignore: ``bool [N]``: difficult (VOC) or crowd (COCO) objects, left out of training and
            ignored by the metrics.
        image_size: ``(height, width)`` of the image.
    """

    boxes: np.ndarray
    class_ids: np.ndarray
    ignore: np.ndarray
    image_size: tuple

    def __post_init__(self):
        self.boxes = np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4)
        self.class_ids = np.asarray(self.class_ids, dtype=np.int64).reshape(-1)
        self.ignore = (np.zeros(len(self.class_ids), bool) if self.ignore is None
                       else np.asarray(self.ignore, dtype=bool).reshape(-1))
        if not len(self.boxes) == len(self.class_ids) == len(self.ignore):
            raise ValueError("boxes, class_ids and ignore must have the same length")

    def __len__(self):
        return len(self.class_ids)

    def gt_boxes(self, include_ignored=False):
        """``float32 [N, 5]`` rows ``(x, y, w, h, class_id)`` (without ignored objects by default)."""
        keep = np.ones(len(self), bool) if include_ignored else ~self.ignore
        return np.concatenate([self.boxes[keep], self.class_ids[keep, None].astype(np.float32)], axis=1)


class AnnotationStore:
    """The :class:`Annotation` of every image of a dataset, packed in a few flat arrays.

    Fill it with :meth:`append` (in image order), then :meth:`freeze` it (the first read does too)
    and read it; reading gives copies, so the stored data cannot be changed through them.

    Args:
        annotations: :class:`Annotation` objects to append at once.
    """

    def __init__(self, annotations=()):
        self._growing = {"boxes": array.array("f"), "class_ids": array.array("i"), "ignore": array.array("b"),
                         "sizes": array.array("i"), "offsets": array.array("q", [0])}
        self._frozen = None
        for annotation in annotations:
            self.append(annotation)

    def append(self, annotation):
        """Adds the annotation of the next image.

        Raises:
            RuntimeError: the store has already been read.
        """
        if self._frozen is not None:
            raise RuntimeError("AnnotationStore is frozen: it has been read, so nothing can be appended")
        growing = self._growing
        growing["boxes"].extend(annotation.boxes.reshape(-1).tolist())
        growing["class_ids"].extend(annotation.class_ids.tolist())
        growing["ignore"].extend(annotation.ignore.astype(np.int8).tolist())
        growing["sizes"].extend(int(side) for side in annotation.image_size)
        growing["offsets"].append(growing["offsets"][-1] + len(annotation))

    def freeze(self):
        """Packs the appended annotations into read-only NumPy arrays; nothing can be appended afterwards.

        Reading freezes the store too; :class:`DetectionDataset` freezes it while it is built, before
        any parallel reader exists.
        """
        growing = self._growing
        if self._frozen is None and growing is not None:
            frozen = {"boxes": np.array(growing["boxes"], np.float32).reshape(-1, 4),
                      "class_ids": np.array(growing["class_ids"], np.int64),
                      "ignore": np.array(growing["ignore"], bool),
                      "sizes": np.array(growing["sizes"], np.int64).reshape(-1, 2),
                      "offsets": np.array(growing["offsets"], np.int64)}
            for value in frozen.values():
                value.flags.writeable = False
            self._frozen = frozen
            self._growing = None
        return self

    def _arrays(self):
        """The read-only NumPy arrays (freezing the store on first use)."""
        if self._frozen is None:
            self.freeze()
        return self._frozen

    def __len__(self):
        if self._frozen is None:
            return len(self._growing["offsets"]) - 1
        return len(self._frozen["offsets"]) - 1

    def _span(self, position):
        """``(arrays, slice of image position's boxes)``."""
        arrays = self._arrays()
        position = int(position)
        if not 0 <= position < len(self):
            raise IndexError(f"annotation {position} out of range (0..{len(self) - 1})")
        offsets = arrays["offsets"]
        return arrays, slice(int(offsets[position]), int(offsets[position + 1]))

    def __getitem__(self, position):
        """The :class:`Annotation` of image ``position`` (a copy)."""
        arrays, span = self._span(position)
        height, width = arrays["sizes"][int(position)]
        return Annotation(arrays["boxes"][span].copy(), arrays["class_ids"][span].copy(), arrays["ignore"][span].copy(),
                          (int(height), int(width)))

    def gt_boxes(self, position, include_ignored=False):
        """Image ``position``'s ``float32 [N, 5]`` rows, like :meth:`Annotation.gt_boxes`."""
        arrays, span = self._span(position)
        keep = slice(None) if include_ignored else ~arrays["ignore"][span]
        boxes = arrays["boxes"][span][keep]
        return np.concatenate([boxes, arrays["class_ids"][span][keep, None].astype(np.float32)], axis=1)

    def box_counts(self, include_ignored=False):
        """``int64 [num_images]``: boxes per image (without ignored objects by default)."""
        arrays = self._arrays()
        image_of_box = np.repeat(np.arange(len(self)), np.diff(arrays["offsets"]))
        if not include_ignored:
            image_of_box = image_of_box[~arrays["ignore"]]
        return np.bincount(image_of_box, minlength=len(self))


class LazyAnnotations:
    """Annotations read from their files each time they are asked for; only the list of sources is kept.

    The lazy counterpart of :class:`AnnotationStore` (same reading interface), for datasets built
    with ``lazy_annotations=True``: building the dataset reads no annotation file, so it is instant
    and its memory does not grow with the annotations; a bad annotation is reported (a
    :class:`~lmnet.errors.DatasetError` naming the file) when its sample is first read.

    Args:
        sources: one entry per image, handed to ``read``.
        read: ``read(source)`` returns the image's :class:`Annotation`.
    """

    def __init__(self, sources, read):
        self._sources = sources
        self._read = read

    def __len__(self):
        return len(self._sources)

    def __getitem__(self, position):
        """The :class:`Annotation` of image ``position``, read now."""
        return self._read(self._sources[int(position)])

    def gt_boxes(self, position, include_ignored=False):
        """Image ``position``'s ``float32 [N, 5]`` rows, like :meth:`Annotation.gt_boxes`."""
        return self[position].gt_boxes(include_ignored)


def pad_gt_boxes(gt_boxes, max_boxes):
    """Pads ``[N, 5]`` ground-truth rows to ``[max_boxes, 5]`` with ``class_id = -1`` rows.

    Raises:
        DatasetError: more than ``max_boxes`` boxes.
    """
    gt_boxes = np.asarray(gt_boxes, dtype=np.float32).reshape(-1, 5)
    if len(gt_boxes) > max_boxes:
        raise DatasetError(f"{len(gt_boxes)} boxes in one image, more than max_boxes={max_boxes}")
    padded = np.zeros((max_boxes, 5), np.float32)
    padded[:, 4] = -1
    padded[:len(gt_boxes)] = gt_boxes
    return padded


class BadAnnotations:
    """Applies the bad-annotation policy while a dataset reads its annotations.

    Args:
        skip: drop bad boxes and images (and count them) instead of raising.
    """

    def __init__(self, skip=False):
        self.skip = skip
        self.counts = collections.Counter()

    def problem(self, kind, message):
        """Reports one problem: raises :class:`DatasetError` (``message``), or counts ``kind`` when skipping."""
        if not self.skip:
            raise DatasetError(message + " (build the dataset with skip_bad_annotations=True to skip such entries)")
        self.counts[kind] += 1

    def clip_boxes(self, boxes, image_size, source):
        """Clips ``[N, 4]`` xywh boxes to the image; returns ``(boxes, keep mask)``.

        A box with no area left after clipping is a problem named after ``source``.
        """
        boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        height, width = image_size
        clipped = clip_xywh(boxes, image_size)
        keep = (clipped[:, 2] > 0) & (clipped[:, 3] > 0)
        for index in np.flatnonzero(~keep):
            self.problem("empty box", f"{source}: box {index} {boxes[index].tolist()} has no area inside the "
                                      f"{width}x{height} image")
        return clipped, keep

    def summary(self, name):
        """One line with the skipped counts, or ``None`` when nothing was skipped."""
        if not self.counts:
            return None
        return f"{name}: {self.skipped()}"

    def skipped(self):
        """``"skipped <kind>: <count>, … (skip_bad_annotations=True)"``, or ``""`` when nothing was skipped."""
        if not self.counts:
            return ""
        parts = ", ".join(f"{kind}: {count}" for kind, count in sorted(self.counts.items()))
        return f"skipped {parts} (skip_bad_annotations=True)"


class DetectionDataset(Dataset):
    """Base of detection datasets: subclasses' ``_read_subset`` returns ``(items, annotations)``
    with one :class:`Annotation` per item, as an :class:`AnnotationStore` (or any sequence, which is
    packed into one).

    ``subset``, ``data_dir``, ``train_validation_saving_size``, ``seed`` and ``extend_dir`` are those of
    :class:`lmnet.datasets.base.Dataset`.

    Args:
        max_boxes: rows of the padded ground truth; ``None`` takes the largest count in the subset.
        skip_bad_annotations: skip (and count) bad boxes, unknown classes and missing or undecodable
            images instead of raising (every image is then decoded once while the dataset is built).
        use_ignored: also train on difficult / crowd objects.
        lazy_annotations: read each image's annotation when its sample is read, not when the dataset
            is built (:class:`LazyAnnotations`); needs ``max_boxes`` and refuses
            ``skip_bad_annotations``. Only datasets with one annotation file per image take it
            (PASCAL VOC, YOLO txt).
        bad_annotations: a :class:`BadAnnotations` policy to apply instead of
            ``BadAnnotations(skip=skip_bad_annotations)`` (the dataset check passes one that records
            every problem, :class:`lmnet.dataset_check.ProblemRecorder`).
    """

    target_key = "gt_boxes"

    def __init__(self, subset="train", data_dir="dataset", train_validation_saving_size=0, seed=0, max_boxes=None,
                 skip_bad_annotations=False, use_ignored=False, lazy_annotations=False, extend_dir=None,
                 bad_annotations=None):
        if lazy_annotations and max_boxes is None:
            raise DatasetError(f"{type(self).__name__}: lazy_annotations=True needs max_boxes (the padded number of "
                               "boxes cannot be taken from annotations that are not read up front)")
        if lazy_annotations and skip_bad_annotations:
            raise DatasetError(f"{type(self).__name__}: lazy_annotations=True cannot skip bad annotations (a skipped "
                               "image would change the length of a dataset already in use); fix them or read eagerly")
        self.lazy_annotations = bool(lazy_annotations)
        self.bad_annotations = BadAnnotations(skip=skip_bad_annotations) if bad_annotations is None else bad_annotations
        self.use_ignored = use_ignored
        self._max_boxes = max_boxes
        super().__init__(subset=subset, data_dir=data_dir, train_validation_saving_size=train_validation_saving_size,
                         seed=seed, extend_dir=extend_dir)
        line = self.bad_annotations.summary(type(self).__name__)
        if line:
            print(line)

    def _prepare_targets(self, targets):
        if isinstance(targets, LazyAnnotations):
            return targets
        store = (targets if isinstance(targets, AnnotationStore) else AnnotationStore(targets)).freeze()
        if self._max_boxes is None:
            self._max_boxes = max(int(store.box_counts(self.use_ignored).max(initial=0)), 1)
        return store

    def _empty_subset_hint(self, subset):
        """The dataset folder, and what ``skip_bad_annotations`` skipped (it may have emptied the subset)."""
        hint = super()._empty_subset_hint(subset)
        skipped = self.bad_annotations.skipped()
        return f"{hint}; {skipped}" if skipped else hint

    @property
    def max_boxes(self):
        """Number of rows of each padded ground-truth array."""
        return self._max_boxes

    @property
    def labels(self):
        """Not defined for detection (use :meth:`annotation`)."""
        raise AttributeError("detection datasets have annotations, not labels")

    def _target(self, position):
        return pad_gt_boxes(self._targets.gt_boxes(position, self.use_ignored), self._max_boxes)

    def annotation(self, index):
        """The full :class:`Annotation` of sample ``index`` of this subset (ignored objects included; a copy)."""
        return self._targets[self._indices[index]]


def read_image_size(path):
    """Reads the ``(height, width)`` of an image file from its header, without decoding the pixels.

    Raises:
        DatasetError: the file cannot be opened as an image; the message names it.
    """
    try:
        with Image.open(path) as image:
            width, height = image.size
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise DatasetError(f"{path}: cannot read image header ({error})") from None
    return height, width


class FileDetectionDataset(DetectionDataset):
    """Detection dataset whose items are image file paths, read lazily with :func:`lmnet.image_io.load_image`.

    Subclasses build each sample's :class:`Annotation` with :meth:`_image_size` and
    :meth:`_make_annotation`, which apply the bad-annotation policy (``self.bad_annotations``).
    Constructor arguments are those of :class:`lmnet.datasets.detection_base.DetectionDataset`.
    """

    @property
    def paths(self):
        """Image file paths of this subset's samples, in sample order."""
        return [self._items[position] for position in self._indices]

    def _load_item(self, item):
        """Reads one image file as RGB ``uint8``."""
        return load_image(item)

    def _image_size(self, path, source, size=None):
        """The ``(height, width)`` of image ``path``, or ``None`` when it is missing or unreadable (a reported problem).

        With ``skip_bad_annotations`` every image is decoded here, once, with :func:`lmnet.image_io.load_image`
        (as training reads it), so that an image that cannot be decoded is skipped and counted now instead of
        stopping training when its sample is read. Otherwise only a missing file or, when ``size`` is not
        given, an unreadable header is found here; a broken image body is reported when its sample is read.

        Args:
            path: the image file.
            source: the annotation file (or line) the image comes from, named in messages.
            size: ``(height, width)`` given by the annotation, if any with both sides positive;
                otherwise the image header is read.
        """
        if not os.path.isfile(path):
            self.bad_annotations.problem("missing image", f"{source}: image file {path} not found")
            return None
        try:
            decoded = load_image(path).shape[:2] if self.bad_annotations.skip else None
            if size is not None and min(size) > 0:
                return int(size[0]), int(size[1])
            return decoded or read_image_size(path)
        except DatasetError as error:
            self.bad_annotations.problem("unreadable image", f"{source}: {error}")
            return None

    def _make_annotation(self, boxes, class_ids, ignore, image_size, source):
        """Clips ``(x, y, w, h)`` pixel boxes to the image and drops (reporting) those left without area.

        Args:
            boxes: ``[N, 4]`` boxes in pixels.
            class_ids: ``[N]`` class indices.
            ignore: ``[N]`` difficult / crowd flags.
            image_size: ``(height, width)``.
            source: file named in problem messages.

        Returns:
            The :class:`Annotation` of the kept boxes.
        """
        boxes, keep = self.bad_annotations.clip_boxes(boxes, image_size, source)
        class_ids = np.asarray(class_ids, dtype=np.int64).reshape(-1)
        ignore = np.asarray(ignore, dtype=bool).reshape(-1)
        return Annotation(boxes[keep], class_ids[keep], ignore[keep], tuple(image_size))
