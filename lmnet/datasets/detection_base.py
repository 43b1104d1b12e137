"""The common base of object-detection datasets, and the policy for bad annotations.

A detection sample is an RGB ``uint8`` image and its ground-truth boxes ``[max_boxes, 5]`` float32
rows ``(x, y, w, h, class_id)`` in pixels, padded with rows whose class_id is ``-1``
(the project's data conventions). Each sample's full :class:`Annotation` also keeps the boxes that training
leaves out but evaluation needs: PASCAL VOC ``difficult`` objects and COCO crowd regions, both
flagged ``ignore``.

Bad annotations: boxes are clipped to the image; a box with zero or negative size after clipping,
an unknown class name or a missing image file is a :class:`DatasetError` naming the file, unless
the dataset is built with ``skip_bad_annotations=True``, which drops them and prints one summary
line with the counts.
"""
import collections
import dataclasses
import os

import numpy as np
from PIL import Image

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
        x0 = np.clip(boxes[:, 0], 0, width)
        y0 = np.clip(boxes[:, 1], 0, height)
        x1 = np.clip(boxes[:, 0] + boxes[:, 2], 0, width)
        y1 = np.clip(boxes[:, 1] + boxes[:, 3], 0, height)
        clipped = np.stack([x0, y0, x1 - x0, y1 - y0], axis=1)
        keep = (clipped[:, 2] > 0) & (clipped[:, 3] > 0)
        for index in np.flatnonzero(~keep):
            self.problem("empty box", f"{source}: box {index} {boxes[index].tolist()} has no area inside the "
                                      f"{width}x{height} image")
        return clipped, keep

    def summary(self, name):
        """One line with the skipped counts, or ``None`` when nothing was skipped."""
        if not self.counts:
            return None
        parts = ", ".join(f"{kind}: {count}" for kind, count in sorted(self.counts.items()))
        return f"{name}: skipped {parts} (skip_bad_annotations=True)"


class DetectionDataset(Dataset):
    """Base of detection datasets: subclasses' ``_read_subset`` returns ``(items, annotations)``
    with one :class:`Annotation` per item.

    Args:
        subset: see :class:`lmnet.datasets.base.Dataset`.
        data_dir: see :class:`lmnet.datasets.base.Dataset`.
        train_validation_saving_size: see :class:`lmnet.datasets.base.Dataset`.
        seed: see :class:`lmnet.datasets.base.Dataset`.
        max_boxes: rows of the padded ground truth; ``None`` takes the largest count in the subset.
        skip_bad_annotations: skip (and count) bad boxes, unknown classes and missing images
            instead of raising.
        use_ignored: also train on difficult / crowd objects.
    """

    target_key = "gt_boxes"

    def __init__(self, subset="train", data_dir="dataset", train_validation_saving_size=0, seed=0, max_boxes=None,
                 skip_bad_annotations=False, use_ignored=False):
        self.bad_annotations = BadAnnotations(skip=skip_bad_annotations)
        self.use_ignored = use_ignored
        self._max_boxes = max_boxes
        super().__init__(subset=subset, data_dir=data_dir, train_validation_saving_size=train_validation_saving_size,
                         seed=seed)
        line = self.bad_annotations.summary(type(self).__name__)
        if line:
            print(line)

    def _prepare_targets(self, targets):
        annotations = list(targets)
        if self._max_boxes is None:
            self._max_boxes = max([len(a.gt_boxes(self.use_ignored)) for a in annotations] + [1])
        return annotations

    @property
    def max_boxes(self):
        """Number of rows of each padded ground-truth array."""
        return self._max_boxes

    @property
    def labels(self):
        """Not defined for detection (use :meth:`annotation`)."""
        raise AttributeError("detection datasets have annotations, not labels")

    def _target(self, position):
        return pad_gt_boxes(self._targets[position].gt_boxes(self.use_ignored), self._max_boxes)

    def annotation(self, index):
        """The full :class:`Annotation` of sample ``index`` of this subset (ignored objects included)."""
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
        """The ``(height, width)`` of image ``path``, or ``None`` when the file is missing (a reported problem).

        Args:
            path: the image file.
            source: the annotation file (or line) the image comes from, named in messages.
            size: ``(height, width)`` given by the annotation, if any with both sides positive;
                otherwise the image header is read.
        """
        if not os.path.isfile(path):
            self.bad_annotations.problem("missing image", f"{source}: image file {path} not found")
            return None
        if size is not None and min(size) > 0:
            return int(size[0]), int(size[1])
        return read_image_size(path)

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
