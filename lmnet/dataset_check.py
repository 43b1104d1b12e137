"""The dataset check: statistics and problems of a dataset's subsets, and anchors fitted to its boxes.

:func:`check_subset` reads every sample of a subset (or a spread-out choice of at most ``max_images``)
and returns a :class:`SubsetReport`: image sizes, class balance, boxes per image and box sizes, and the
:class:`Problem` list, each problem naming the file (or sample) it is in. :func:`fit_report` fits
anchors to the training boxes (:mod:`lmnet.anchors`). ``executor/check_dataset.py`` prints and plots
them (:mod:`lmnet.dataset_check_report`, :mod:`lmnet.dataset_check_plots`).

Problems (their ``kind``):

* the ones a detection dataset finds while reading its annotations, recorded by :class:`ProblemRecorder`
  instead of stopping: the dataset's own kinds (``missing image``, ``unreadable image``, ``malformed
  label``, ``unknown class`` …) and, before a box is clipped to its image, :data:`DEGENERATE` (width or
  height not above 0, or not a number) and :data:`OUTSIDE` (the box reaches more than
  :data:`OUTSIDE_TOLERANCE` pixels beyond the image: clipped, or dropped when nothing is left inside);
* :data:`TINY`: a box under :data:`TINY_BOX_PIXELS` pixels wide or high at the network input
  (``IMAGE_SIZE``; in pixels of its own image when no input size is known);
* :data:`DUPLICATE`: two boxes of one class in one image with an IoU of at least :data:`DUPLICATE_IOU`;
* :data:`CLASS_RANGE`: a class id outside ``0 … len(classes) − 1``;
* :data:`UNREADABLE`: an image file that cannot be decoded (files are decoded by the full check only),
  and :data:`SIZE_MISMATCH`: a decoded image whose size is not the annotation's;
* :data:`EMPTY_CLASS`: a class without any sample in a subset (only when the whole subset was read).

:func:`quick_check` is the bounded subset the trainer runs at start: it reads at most
:data:`QUICK_MAX_SAMPLES` training annotations (no image) and logs one line per kind of problem, and
one when the configured anchors' best-possible recall is below :data:`POOR_BPR`.
"""
import dataclasses

import numpy as np
from tqdm import tqdm

from lmnet import anchors as anchor_math
from lmnet.boxes import clip_xywh, iou_xywh_aligned
from lmnet.datasets.detection_base import BadAnnotations
from lmnet.errors import DatasetError
from lmnet.tasks import get_task

DEGENERATE = "degenerate box"
OUTSIDE = "box outside image"
TINY = "tiny box"
DUPLICATE = "duplicate box"
CLASS_RANGE = "class id out of range"
UNREADABLE = "unreadable image"
SIZE_MISMATCH = "image size differs from annotation"
EMPTY_CLASS = "class without samples"
SUBSET_UNREADABLE = "subset unreadable"

#: A box narrower or lower than this many pixels at the network input is a :data:`TINY` box.
TINY_BOX_PIXELS = 2.0
#: A box may reach this many pixels beyond its image (annotation rounding) before it is :data:`OUTSIDE`.
OUTSIDE_TOLERANCE = 0.5
#: Two boxes of one class in one image overlapping by at least this IoU are a :data:`DUPLICATE`.
DUPLICATE_IOU = 0.95
#: :func:`quick_check` reads at most this many training annotations (spread evenly over the subset).
QUICK_MAX_SAMPLES = 2000
#: :func:`quick_check` warns when the configured anchors' best-possible recall is below this.
POOR_BPR = 0.9

#: The kind :class:`~lmnet.datasets.detection_base.BadAnnotations` gives a box without area after clipping;
#: :class:`ProblemRecorder` reports such boxes as :data:`DEGENERATE` or :data:`OUTSIDE` instead.
_EMPTY_BOX = "empty box"


@dataclasses.dataclass(frozen=True)
class Problem:
    """One problem of a dataset.

    Attributes:
        kind: what is wrong (one of the module's kinds, or a detection dataset's own).
        message: ``<file or sample>: <detail>``.
    """

    kind: str
    message: str


class ProblemRecorder(BadAnnotations):
    """A bad-annotation policy that records every problem and goes on, for the dataset check.

    A dataset built with it (``bad_annotations=ProblemRecorder()``) keeps what it can read, as with
    ``skip_bad_annotations``, but decodes no image while it is built. Boxes are checked before they are
    clipped to their image (:func:`geometry_problems`).
    """

    def __init__(self):
        super().__init__(skip=False)
        self.problems = []

    def problem(self, kind, message):
        """Records the problem (a box without area was already recorded by :meth:`clip_boxes`)."""
        if kind != _EMPTY_BOX:
            self.problems.append(Problem(kind, message))

    def clip_boxes(self, boxes, image_size, source):
        """Records degenerate and outside boxes, then clips like the base class."""
        boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        self.problems.extend(geometry_problems(boxes, image_size, source))
        return super().clip_boxes(boxes, image_size, source)


@dataclasses.dataclass
class Sample:
    """What the check reads of one sample without decoding its image.

    Attributes:
        source: the image file, or ``<subset> sample <index>`` for data without files.
        image_size: ``(height, width)`` from the annotation, or ``None`` (classification).
        class_ids: ``int64 [N]``: the label (classification) or each box's class.
        boxes: ``float32 [N, 4]`` ``(x, y, w, h)`` boxes, or ``None`` (classification).
        trained: ``bool [N]``: the boxes training uses (not ignored as difficult or crowd), or ``None``.
    """

    source: str
    image_size: tuple
    class_ids: np.ndarray
    boxes: np.ndarray = None
    trained: np.ndarray = None


class LabelReader:
    """Reads classification samples: one label each; the image is decoded for its size."""

    decodes_images = True

    def dataset_options(self, recorder):
        """Extra dataset arguments for the check (none)."""
        return {}

    def read(self, dataset, index, source):
        """The :class:`Sample` of ``dataset[index]``."""
        return Sample(source, None, np.array([dataset.target(index)], np.int64))


class BoxReader:
    """Reads detection samples: the annotation (with ignored objects) and the image size it gives."""

    decodes_images = False

    def dataset_options(self, recorder):
        """Extra dataset arguments for the check: record problems, read annotations up front."""
        return {"bad_annotations": recorder, "lazy_annotations": False}

    def read(self, dataset, index, source):
        """The :class:`Sample` of ``dataset[index]``."""
        annotation = dataset.annotation(index)
        trained = np.ones(len(annotation), bool) if getattr(dataset, "use_ignored", False) else ~annotation.ignore
        return Sample(source, tuple(annotation.image_size), annotation.class_ids, annotation.boxes, trained)


def sample_sources(dataset, subset):
    """The name of each sample in problem messages: its image file, else ``<subset> sample <index>``."""
    paths = getattr(dataset, "paths", None)
    return list(paths) if paths is not None else [f"{subset} sample {index}" for index in range(len(dataset))]


def spread_indices(total, limit=None):
    """``0 … total − 1``, or ``limit`` of them spread evenly (deterministic, no random state used)."""
    if limit is None or limit >= total:
        return np.arange(total)
    return np.unique(np.linspace(0, total - 1, int(limit)).round().astype(np.int64))


# Problems ----------------------------------------------------------------------------------------


@dataclasses.dataclass
class BoxTable:
    """The boxes of several samples in flat arrays (one row per box).

    Attributes:
        boxes: ``float64 [M, 4]`` ``(x, y, w, h)``.
        class_ids: ``int64 [M]``.
        sample: ``int64 [M]``: the position of each box's sample in the list the table was made from.
        image_sizes: ``float64 [M, 2]`` ``(height, width)`` of each box's image.
        trained: ``bool [M]``: the boxes training uses.
    """

    boxes: np.ndarray
    class_ids: np.ndarray
    sample: np.ndarray
    image_sizes: np.ndarray
    trained: np.ndarray

    @classmethod
    def of(cls, samples):
        """The table of the boxes of ``samples`` (:class:`Sample` objects with boxes)."""
        counts = np.array([len(sample.class_ids) for sample in samples], np.int64)
        sizes = np.array([sample.image_size for sample in samples], np.float64).reshape(-1, 2)
        return cls(boxes=np.concatenate([s.boxes for s in samples] + [np.zeros((0, 4))]).astype(np.float64),
                   class_ids=np.concatenate([s.class_ids for s in samples] + [np.zeros(0, np.int64)]),
                   sample=np.repeat(np.arange(len(samples)), counts), image_sizes=np.repeat(sizes, counts, axis=0),
                   trained=np.concatenate([s.trained for s in samples] + [np.zeros(0, bool)]))


def _geometry(boxes, image_sizes):
    """``(degenerate, beyond)`` of ``[M, 4]`` boxes: not positive and finite, and pixels reached beyond the image."""
    with np.errstate(invalid="ignore"):
        degenerate = ~(np.isfinite(boxes).all(axis=1) & (boxes[:, 2] > 0) & (boxes[:, 3] > 0))
        far_side = boxes[:, :2] + boxes[:, 2:] - image_sizes[:, ::-1]
        beyond = np.max(np.concatenate([-boxes[:, :2], far_side], axis=1), axis=1)
    return degenerate, np.where(degenerate, 0.0, beyond)


def geometry_problems(boxes, image_size, source):
    """:data:`DEGENERATE` and :data:`OUTSIDE` problems of one image's ``[N, 4]`` ``(x, y, w, h)`` boxes."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    degenerate, beyond = _geometry(boxes, np.tile(np.asarray(image_size, np.float64), (len(boxes), 1)))
    problems = [Problem(DEGENERATE, f"{source}: box {index} {_box_text(boxes[index])}: width and height must be "
                                    "finite numbers above 0") for index in np.flatnonzero(degenerate)]
    height, width = image_size
    for index in np.flatnonzero(beyond > OUTSIDE_TOLERANCE):
        inside = clip_xywh(boxes[index], image_size)
        fate = f"clipped to {_box_text(inside)}" if inside[2] > 0 and inside[3] > 0 else "nothing inside, dropped"
        problems.append(Problem(OUTSIDE, f"{source}: box {index} {_box_text(boxes[index])} reaches {beyond[index]:g} "
                                         f"px beyond the {width}x{height} image ({fate})"))
    return problems


def _box_text(box):
    return "[" + ", ".join(f"{float(value):.5g}" for value in box) + "]"


def box_problems(samples, table, num_classes, input_size=None):
    """The problems of the boxes of ``samples`` (already clipped by their dataset): every kind but decoding.

    Args:
        samples: :class:`Sample` objects with boxes.
        table: their :class:`BoxTable`.
        num_classes: the number of classes.
        input_size: ``(height, width)`` of the network input the tiny-box rule applies at, or ``None``
            (then in pixels of the image).
    """
    rows = np.arange(len(table.class_ids)) - np.searchsorted(table.sample, table.sample)  # index within its sample

    def where(row):
        return f"{samples[table.sample[row]].source}: box {rows[row]} {_box_text(table.boxes[row])}"

    degenerate, beyond = _geometry(table.boxes, table.image_sizes)
    problems = []
    for index in np.unique(table.sample[degenerate | (beyond > OUTSIDE_TOLERANCE)]):
        problems += geometry_problems(samples[index].boxes, samples[index].image_size, samples[index].source)
    problems += _class_problems(samples, table.class_ids, table.sample, num_classes)
    sizes, scale = table.boxes[:, 2:], "image"
    if input_size is not None:
        sizes = anchor_math.resized_sizes(sizes, table.image_sizes, input_size)
        scale = f"{input_size[0]}x{input_size[1]} input"
    with np.errstate(invalid="ignore"):
        tiny = (sizes < TINY_BOX_PIXELS).any(axis=1) & (sizes > 0).all(axis=1)
    problems += [Problem(TINY, f"{where(row)} is {sizes[row, 0]:.3g}x{sizes[row, 1]:.3g} px at the {scale} (under "
                               f"{TINY_BOX_PIXELS:g} px)") for row in np.flatnonzero(tiny)]
    problems += [Problem(DUPLICATE, f"{samples[table.sample[first]].source}: boxes {rows[first]} and {rows[second]} of "
                                    f"class {table.class_ids[first]} overlap with IoU >= {DUPLICATE_IOU:g}")
                 for first, second in duplicate_pairs(table)]
    return problems


def duplicate_pairs(table, threshold=DUPLICATE_IOU, chunk=1_000_000):
    """``(row, row)`` pairs of boxes of one sample and one class whose IoU is at least ``threshold``.

    The pairs of each group of boxes (one sample, one class) are made for every group of the same size at
    once and measured ``chunk`` pairs at a time.
    """
    order = np.lexsort((table.class_ids, table.sample))
    keys = np.stack([table.sample[order], table.class_ids[order]], axis=1)
    starts = np.flatnonzero(np.r_[True, (keys[1:] != keys[:-1]).any(axis=1)]) if len(keys) else np.zeros(0, int)
    counts = np.diff(np.r_[starts, len(keys)])
    found = []
    for count in np.unique(counts[counts > 1]):
        first, second = np.triu_indices(count, k=1)
        group_starts = starts[counts == count]
        for begin in range(0, len(group_starts), max(chunk // len(first), 1)):
            offsets = group_starts[begin:begin + max(chunk // len(first), 1), None]
            a, b = order[(offsets + first).ravel()], order[(offsets + second).ravel()]
            hits = iou_xywh_aligned(table.boxes[a], table.boxes[b]) >= threshold
            found += zip(np.minimum(a, b)[hits].tolist(), np.maximum(a, b)[hits].tolist())
    return sorted(found)


def _class_problems(samples, class_ids, sample_of, num_classes):
    """:data:`CLASS_RANGE` problems of class ids (``sample_of``: each id's sample)."""
    wrong = (class_ids < 0) | (class_ids >= num_classes)
    return [Problem(CLASS_RANGE, f"{samples[sample_of[row]].source}: class id {class_ids[row]} outside "
                                 f"0..{num_classes - 1}") for row in np.flatnonzero(wrong)]


def label_problems(samples, num_classes):
    """The problems of classification ``samples``' labels (:data:`CLASS_RANGE`)."""
    class_ids = np.concatenate([sample.class_ids for sample in samples] + [np.zeros(0, np.int64)])
    counts = [len(sample.class_ids) for sample in samples]
    return _class_problems(samples, class_ids, np.repeat(np.arange(len(samples)), counts), num_classes)


def image_problems(dataset, index, sample):
    """Decodes sample ``index``'s image; returns ``(image size or None, problems)``."""
    try:
        shape = dataset.image(index).shape[:2]
    except DatasetError as error:
        return None, [Problem(UNREADABLE, str(error) if sample.source in str(error) else f"{sample.source}: {error}")]
    if sample.image_size is not None and tuple(shape) != tuple(sample.image_size):
        return tuple(shape), [Problem(SIZE_MISMATCH, f"{sample.source}: the image is {shape[1]}x{shape[0]}, the "
                                                     f"annotation says {sample.image_size[1]}x{sample.image_size[0]}")]
    return tuple(shape), []


# Subset reports -------------------------------------------------------------------------------


@dataclasses.dataclass
class SubsetReport:
    """Statistics and problems of one subset.

    Attributes:
        subset: ``"train"`` or ``"validation"``.
        total: samples in the subset.
        checked: samples read (all, or ``max_images`` of them).
        classes: class names.
        image_sizes: ``int64 [checked, 2]`` ``(height, width)`` (rows of unreadable images left out).
        images_per_class: ``int64 [C]``: checked samples with at least one object (or the label) of each class.
        objects_per_class: ``int64 [C]`` boxes per class, or ``None`` (classification).
        boxes_per_image: ``int64 [checked]``, or ``None`` (classification).
        boxes: the :class:`BoxTable` of the checked samples, or ``None`` (classification).
        problems: the :class:`Problem` list.
    """

    subset: str
    total: int
    checked: int
    classes: list
    image_sizes: np.ndarray
    images_per_class: np.ndarray
    objects_per_class: np.ndarray = None
    boxes_per_image: np.ndarray = None
    boxes: BoxTable = None
    problems: list = dataclasses.field(default_factory=list)

    @property
    def is_detection(self):
        """Whether the subset has boxes."""
        return self.boxes is not None

    @property
    def box_sizes(self):
        """``float64 [M, 2]``: every box's ``(w, h)`` in pixels of its image."""
        return self.boxes.boxes[:, 2:]

    def input_box_sizes(self, input_size):
        """Every box's ``(w, h)`` in pixels at the network input ``input_size``."""
        return anchor_math.resized_sizes(self.box_sizes, self.boxes.image_sizes, input_size)

    def grid_box_sizes(self, grid_size, input_size):
        """The ``(w, h)`` of the boxes anchors are fitted to and measured on, in cells of the output grid.

        Those are the boxes training uses, less the :data:`TINY` ones (under :data:`TINY_BOX_PIXELS` at the
        network input ``input_size``), which are reported as problems rather than given an anchor.
        """
        keep = self.boxes.trained & (self.input_box_sizes(input_size) >= TINY_BOX_PIXELS).all(axis=1)
        return anchor_math.resized_sizes(self.box_sizes[keep], self.boxes.image_sizes[keep], grid_size)

    def problems_by_kind(self):
        """``{kind: [problem, …]}`` in the order kinds were first found."""
        grouped = {}
        for problem in self.problems:
            grouped.setdefault(problem.kind, []).append(problem)
        return grouped


def check_subset(dataset, subset, reader, input_size=None, max_images=None, progress=False, recorded=(),
                 decode_images=True):
    """Reads (a choice of) the samples of one subset into a :class:`SubsetReport`.

    Args:
        dataset: the subset's dataset.
        subset: its name.
        reader: :class:`LabelReader` or :class:`BoxReader` (the task's :meth:`lmnet.tasks.Task.dataset_reader`).
        input_size: ``(height, width)`` of the network input, for the tiny-box rule; ``None``: image pixels.
        max_images: read at most this many samples, spread evenly; ``None`` reads all.
        progress: show a progress bar.
        recorded: problems found while the dataset was built (:class:`ProblemRecorder`).
        decode_images: decode the images of a dataset with files (finds unreadable ones; slower).
    """
    sources = sample_sources(dataset, subset)
    decode = reader.decodes_images or (decode_images and getattr(dataset, "paths", None) is not None)
    samples, image_sizes, problems = [], [], list(recorded)
    for index in tqdm(spread_indices(len(dataset), max_images), desc=f"check {subset}", unit="image",
                      disable=not progress, dynamic_ncols=True):
        samples.append(reader.read(dataset, int(index), sources[index]))
        size, found = image_problems(dataset, int(index), samples[-1]) if decode else (samples[-1].image_size, [])
        image_sizes.append(size)
        problems += found
    return subset_report(subset, len(dataset), list(dataset.classes), samples, image_sizes, problems, input_size)


def subset_report(subset, total, classes, samples, image_sizes, problems=(), input_size=None):
    """The :class:`SubsetReport` of the ``samples`` read of a subset of ``total`` samples.

    Args:
        subset: the subset's name.
        total: samples in the subset.
        classes: class names.
        samples: the :class:`Sample` objects read.
        image_sizes: ``(height, width)`` of each sample's image, ``None`` when unknown (unreadable).
        problems: problems found before (while building, while decoding).
        input_size: the network input, for the tiny-box rule.
    """
    count = len(classes)
    images_per_class = np.zeros(count, np.int64)
    for sample in samples:
        ids = sample.class_ids
        images_per_class[np.unique(ids[(ids >= 0) & (ids < count)])] += 1
    report = SubsetReport(subset, total, len(samples), list(classes),
                          np.array([size for size in image_sizes if size is not None], np.int64).reshape(-1, 2),
                          images_per_class, problems=list(problems))
    if not samples or samples[0].boxes is None:
        report.problems += label_problems(samples, count)
    else:
        report.boxes = BoxTable.of(samples)
        report.problems += box_problems(samples, report.boxes, count, input_size)
        ids = report.boxes.class_ids
        report.objects_per_class = np.bincount(ids[(ids >= 0) & (ids < count)], minlength=count).astype(np.int64)
        report.boxes_per_image = np.bincount(report.boxes.sample, minlength=len(samples)).astype(np.int64)
    if len(samples) == total:
        totals = report.objects_per_class if report.is_detection else images_per_class
        report.problems += [Problem(EMPTY_CLASS, f"{subset}: class {index} '{name}' has no samples")
                            for index, name in enumerate(classes) if totals[index] == 0]
    return report


def build_checked_subset(build, reader, subset):
    """Builds one subset for the check with a :class:`ProblemRecorder`; returns ``(dataset, recorded problems)``.

    Args:
        build: ``build(subset, extra_options)`` returns the dataset.
        reader: the task's reader (its ``dataset_options`` add the recorder for detection).
        subset: ``"train"`` or ``"validation"``.

    Returns:
        ``(dataset or None, problems)``: ``None`` when the subset could not be built but problems were
        recorded on the way (the error is then one more problem, :data:`SUBSET_UNREADABLE`).

    Raises:
        DatasetError: the subset cannot be built and nothing was recorded (a missing folder, say).
    """
    recorder = ProblemRecorder()
    try:
        return build(subset, reader.dataset_options(recorder)), recorder.problems
    except DatasetError as error:
        if not recorder.problems:
            raise
        return None, recorder.problems + [Problem(SUBSET_UNREADABLE, f"{subset}: {error}")]


# Anchors ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class AnchorReport:
    """Anchors fitted to the training boxes, and the configured ones, measured on those boxes.

    Attributes:
        grid_size: ``(rows, columns)`` of the output grid the anchors are in units of.
        input_size: ``(height, width)`` of the network input.
        fitted: :class:`lmnet.anchors.AnchorMatch` of the fitted anchors.
        current: :class:`lmnet.anchors.AnchorMatch` of the configured anchors, or ``None``.
        line: the config line that sets the fitted anchors.
    """

    grid_size: tuple
    input_size: tuple
    fitted: object
    current: object
    line: str


def fit_report(train, input_size, grid_size, num_anchors, current=None, iou_threshold=anchor_math.BPR_IOU, seed=0):
    """Fits ``num_anchors`` anchors to the boxes of ``train`` (a :class:`SubsetReport`) and measures them and the
    ``current`` ones on those boxes (:meth:`SubsetReport.grid_box_sizes`: tiny and ignored boxes left out).

    Raises:
        DatasetError: the subset has fewer distinct box sizes than ``num_anchors``.
    """
    sizes = train.grid_box_sizes(grid_size, input_size)
    if len(sizes) == 0:
        raise DatasetError(f"{train.subset}: no boxes to fit anchors to (tiny boxes left out)")
    fitted = anchor_math.fit_anchors(sizes, num_anchors, seed=seed)
    return AnchorReport(grid_size=tuple(grid_size), input_size=tuple(input_size),
                        fitted=anchor_math.match(sizes, fitted, iou_threshold),
                        current=None if current is None else anchor_math.match(sizes, current, iou_threshold),
                        line=anchor_math.anchors_line(fitted))


def network_grid(network):
    """``(anchors, grid size)`` of a YOLO network object, or ``None`` for a network without anchors."""
    anchors = getattr(network, "anchors", None)
    if anchors is None:
        return None
    return np.asarray(anchors, np.float64), tuple(network.grid_size)


# Quick check at the start of training ----------------------------------------------------------


def quick_check(config, dataset, network, log, max_samples=QUICK_MAX_SAMPLES):
    """Checks at most ``max_samples`` training annotations (no image is read) and logs one line per finding.

    One line per kind of problem (:func:`box_problems` or :func:`label_problems`, with the count and the
    first file), and one when the network's anchors reach a best-possible recall (IoU ≥
    :data:`lmnet.anchors.BPR_IOU`) below :data:`POOR_BPR` on the trained boxes. Silent when nothing is
    found. Reads no random state and changes nothing, so training is the same with or without it.

    Args:
        config: the validated config (``TASK``, ``IMAGE_SIZE``).
        dataset: the training dataset.
        network: the network object (its ``anchors`` and ``grid_size``, when it has anchors).
        log: a ``print``-like function.
        max_samples: samples read at most, spread evenly over the subset.
    """
    reader = get_task(config.TASK).dataset_reader()
    sources = sample_sources(dataset, "train")
    samples = [reader.read(dataset, int(index), sources[index]) for index in spread_indices(len(dataset), max_samples)]
    report = subset_report("train", len(dataset), list(dataset.classes), samples,
                           [sample.image_size for sample in samples], input_size=config.IMAGE_SIZE)
    for kind, problems in report.problems_by_kind().items():
        if kind != EMPTY_CLASS:
            log(f"dataset check: {len(problems)} × {kind} in {report.checked} training samples, first: "
                f"{problems[0].message}")
    grid = network_grid(network)
    if grid is not None and report.is_detection:
        _log_poor_anchors(report.grid_box_sizes(grid[1], config.IMAGE_SIZE), grid[0], report.checked, log)


def _log_poor_anchors(sizes, anchors, checked, log):
    if len(sizes) == 0:
        return
    measured = anchor_math.match(sizes, anchors)
    if measured.bpr < POOR_BPR:
        log(f"dataset check: NETWORK.ANCHORS fit the training boxes poorly: best-possible recall "
            f"{measured.bpr:.3f} (best anchor IoU >= {measured.iou_threshold:g}; below {POOR_BPR:g}), mean best IoU "
            f"{measured.mean_iou:.3f}, over {measured.num_boxes} boxes of {checked} samples; "
            f"executor/check_dataset.py -c CONFIG prints anchors fitted to them")
