"""What ``executor/check_dataset.py`` checks and where it writes: a config's dataset or a bare dataset module.

:func:`target_from_config` and :func:`target_from_dataset` describe the data to check as a
:class:`CheckTarget`; :func:`check` reads its ``train`` and ``validation`` subsets
(:mod:`lmnet.dataset_check`), fits anchors when the target has a grid, and writes into the output folder
one PNG per subset, ``report.txt`` (the printed report) and ``problems.txt`` (every problem).
"""
import dataclasses
import os

import numpy as np

from lmnet import builders, config as config_module, dataset_check
from lmnet.boxes import GT_BOXES_KEY
from lmnet.common import Tasks
from lmnet.config import SmartDict
from lmnet.dataset_check_plots import write_subset_plot
from lmnet.dataset_check_report import anchor_lines, problems_file_lines, subset_lines
from lmnet.errors import ConfigError, DatasetError
from lmnet.outputs import claim_output_folder, write_atomically
from lmnet.tasks import get_task

#: The subsets checked, in order.
SUBSETS = ("train", "validation")
#: Anchors fitted for a bare dataset when ``--num_anchors`` is not given (YOLOv2's five).
DEFAULT_NUM_ANCHORS = 5
#: Output stride of a bare dataset's grid when ``--stride`` is not given (LMFYolo's and YOLOv2's).
DEFAULT_STRIDE = 32
#: The text files the tool writes beside the plots.
TEXT_ENTRIES = ("report.txt", "problems.txt")


@dataclasses.dataclass
class CheckTarget:
    """The data to check and the network input it is for.

    Attributes:
        name: names the default output folder (the config file's or the dataset module's name).
        reader: the task's :class:`lmnet.dataset_check.LabelReader` or ``BoxReader``.
        build: ``build(subset, extra_options)`` returns the subset's dataset.
        input_size: ``(height, width)`` of the network input, or ``None``.
        grid_size: ``(rows, columns)`` of the anchors' grid, or ``None`` (no anchors to fit).
        anchors: the configured ``[A, 2]`` anchors, or ``None``.
        num_anchors: anchors to fit.
        seed: seed of the dataset (and of nothing else).
    """

    name: str
    reader: object
    build: object
    input_size: tuple = None
    grid_size: tuple = None
    anchors: object = None
    num_anchors: int = None
    seed: int = 0


def default_output_dir(target):
    """``./dataset_check/<name>``: the config file's or the dataset module's name, under the working folder."""
    return os.path.join("dataset_check", target.name)


def folder_options(folder):
    """``(data_dir, {"extend_dir": name})`` of a dataset folder given directly.

    Raises:
        ConfigError: ``folder`` is not a folder.
    """
    if not os.path.isdir(folder):
        raise ConfigError(f"--folder {folder}: not a folder")
    folder = os.path.abspath(folder)
    return os.path.dirname(folder), {"extend_dir": os.path.basename(folder)}


def target_from_options(data_dir, config_file=None, dataset=None, folder=None, image_size=None, stride=None,
                        num_anchors=None, overrides=()):
    """The check's target from ``check_dataset.py``'s options: a config (``dataset`` then overrides its
    ``DATASET_CLASS``) or, without one, the bare dataset module ``dataset``.

    Raises:
        ConfigError: neither a config nor a dataset module, or options that do not apply to the one given.
    """
    if config_file is not None:
        if image_size is not None or stride is not None:
            raise ConfigError("--image_size and --stride apply to a bare dataset (-d without -c); with a config use "
                              "--set IMAGE_SIZE=[H,W]")
        return target_from_config(config_file, data_dir, dataset=dataset, folder=folder, num_anchors=num_anchors,
                                  overrides=overrides)
    if dataset is None:
        raise ConfigError("nothing to check: give -c CONFIG_FILE or -d DATASET_MODULE")
    if overrides:
        raise ConfigError("--set applies to a config (-c)")
    return target_from_dataset(dataset, data_dir, folder=folder, image_size=image_size, stride=stride,
                               num_anchors=num_anchors)


def target_from_config(config_file, data_dir, dataset=None, folder=None, num_anchors=None, overrides=()):
    """The :class:`CheckTarget` of a config: its dataset at its ``IMAGE_SIZE`` and its network's anchors.

    The ``train`` subset is read whole (``TRAIN_VALIDATION_SAVING_SIZE`` holds nothing out). The network
    object is built (not its Keras model) for its anchors and grid (``anchors`` and ``grid_size``).

    Raises:
        ConfigError: the config is invalid, or ``num_anchors`` is given for a network without anchors.
    """
    config = config_module.load(config_file, dataset=dataset, overrides=overrides)
    options = dict(config.DATASET.OPTIONS or {})
    if folder is not None:
        data_dir, extra = folder_options(folder)
        options.update(extra)

    def build(subset, extra):
        checked = SmartDict(config)
        checked.DATASET = SmartDict(config.DATASET, TRAIN_VALIDATION_SAVING_SIZE=0, OPTIONS={**options, **extra})
        return builders.build_dataset(checked, data_dir, subset)

    # Anchors and grid do not depend on the classes: a config that reads them from the data needs no read here.
    classes = list(config.CLASSES or ["object"])
    grid = dataset_check.network_grid(builders.build_network(config, classes, mixed_precision=False))
    if grid is None and num_anchors is not None:
        raise ConfigError(f"--num_anchors: {config.NETWORK_CLASS.__name__} of {config_file} has no NETWORK.ANCHORS "
                          f"(anchors are fitted for YOLO detectors only)")
    name = os.path.splitext(os.path.basename(config_file))[0]
    return CheckTarget(name=name, reader=get_task(config.TASK).dataset_reader(), build=build,
                       input_size=tuple(config.IMAGE_SIZE), grid_size=None if grid is None else grid[1],
                       anchors=None if grid is None else grid[0],
                       num_anchors=num_anchors or (None if grid is None else len(grid[0])), seed=config.SEED)


def target_from_dataset(module, data_dir, folder=None, image_size=None, stride=None, num_anchors=None):
    """The :class:`CheckTarget` of a dataset module of :mod:`lmnet.datasets` (``yolo_txt``, ``image_folder`` …).

    Anchors are fitted (``num_anchors``, default :data:`DEFAULT_NUM_ANCHORS`, on a grid of ``stride``
    pixels, default :data:`DEFAULT_STRIDE`) when ``image_size`` is given and the dataset has boxes.

    Raises:
        ConfigError: no such dataset module, an image size that is not a multiple of the stride, or anchor
            options for a classification dataset.
    """
    try:
        dataset_class = config_module.resolve_class("lmnet.datasets", module, "lmnet.datasets.base", "Dataset")
    except ConfigError as error:
        raise ConfigError(f"-d/--dataset {module!r}: {error} (expected a module name such as yolo_txt)") from None
    options = {}
    if folder is not None:
        data_dir, options = folder_options(folder)
    task = Tasks.OBJECT_DETECTION if dataset_class.target_key == GT_BOXES_KEY else Tasks.CLASSIFICATION
    grid = _bare_grid(image_size, stride, task, num_anchors, module)

    def build(subset, extra):
        try:
            return dataset_class(subset=subset, data_dir=data_dir, **options, **extra)
        except TypeError as error:
            raise ConfigError(f"{dataset_class.__name__}: {error}") from None

    return CheckTarget(name=module, reader=get_task(task).dataset_reader(), build=build,
                       input_size=None if image_size is None else tuple(image_size), grid_size=grid,
                       num_anchors=None if grid is None else (num_anchors or DEFAULT_NUM_ANCHORS))


def _bare_grid(image_size, stride, task, num_anchors, module):
    """The grid of a bare dataset's anchors, or ``None``; refuses anchor options that cannot apply."""
    if task != Tasks.OBJECT_DETECTION:
        if num_anchors is not None or stride is not None:
            raise ConfigError(f"-d/--dataset {module}: a classification dataset has no boxes to fit anchors to "
                              f"(drop --num_anchors and --stride)")
        return None
    if image_size is None:
        if num_anchors is not None or stride is not None:
            raise ConfigError("--num_anchors and --stride need --image_size H W (the network input the anchors are "
                              "for)")
        return None
    stride = stride or DEFAULT_STRIDE
    if any(side <= 0 or side % stride for side in image_size):
        raise ConfigError(f"--image_size {image_size[0]} {image_size[1]}: expected positive multiples of the "
                          f"stride {stride}")
    return image_size[0] // stride, image_size[1] // stride


@dataclasses.dataclass
class CheckResult:
    """What :func:`check` found and wrote.

    Attributes:
        reports: one :class:`lmnet.dataset_check.SubsetReport` per subset read.
        anchors: the :class:`lmnet.dataset_check.AnchorReport`, or ``None``.
        text: the report as printed.
        output_dir: the folder written.
        files: the files written, by entry name.
    """

    reports: list
    anchors: object
    text: str
    output_dir: str
    files: dict


def check(target, output_dir, max_images=None, overwrite=False, progress=True, decode_images=True,
          bpr_iou=None, seed=0, log=print):
    """Checks ``target``'s subsets and writes the plots and the report into ``output_dir``.

    Args:
        target: a :class:`CheckTarget`.
        output_dir: the output folder (claimed with :func:`lmnet.outputs.claim_output_folder`).
        max_images: read at most this many samples per subset (spread evenly).
        overwrite: replace an earlier check's files in ``output_dir``.
        progress: progress bars.
        decode_images: decode the image files (finds undecodable ones).
        bpr_iou: the IoU of the best-possible recall (default :data:`lmnet.anchors.BPR_IOU`).
        seed: the k-means seed.
        log: receives the report's lines and the paths written.

    Returns:
        A :class:`CheckResult`.
    """
    entries = [f"{subset}.png" for subset in SUBSETS] + list(TEXT_ENTRIES)
    claim_output_folder(output_dir, "check_dataset", entries, overwrite=overwrite, log=log)
    reports = []
    for subset in SUBSETS:
        dataset, recorded = dataset_check.build_checked_subset(target.build, target.reader, subset)
        reports.append(_check_built(dataset, subset, target, recorded, max_images, progress, decode_images))
    anchor_report, note = _fit(target, reports[0], bpr_iou, seed)
    lines = [line for report in reports for line in subset_lines(report, target.input_size) + [""]]
    lines += anchor_lines(anchor_report) if anchor_report is not None else [note] if note else []
    text = "\n".join(lines)
    files = {}
    for report in reports:
        files[f"{report.subset}.png"] = os.path.join(output_dir, f"{report.subset}.png")
        write_subset_plot(files[f"{report.subset}.png"], report, target.input_size,
                          anchor_report if report.subset == "train" else None)
    files["report.txt"] = _write_text(output_dir, "report.txt", [text])
    files["problems.txt"] = _write_text(output_dir, "problems.txt", problems_file_lines(reports))
    log(text)
    log(f"plots and report written to {output_dir}")
    return CheckResult(reports=reports, anchors=anchor_report, text=text, output_dir=output_dir, files=files)


def _check_built(dataset, subset, target, recorded, max_images, progress, decode_images):
    """The subset's report; a subset that could not be built reports its recorded problems only."""
    if dataset is None:
        return dataset_check.SubsetReport(subset, 0, 0, [], np.zeros((0, 2), np.int64), np.zeros(0, np.int64),
                                          problems=list(recorded))
    return dataset_check.check_subset(dataset, subset, target.reader, target.input_size, max_images, progress,
                                      recorded, decode_images)


def _fit(target, train, bpr_iou, seed):
    """``(anchor report, None)``, or ``(None, the line saying why no anchors were fitted)``."""
    if not train.is_detection:
        return None, None
    if target.grid_size is None:
        return None, "== anchors: not fitted (give --image_size H W, and --stride, to fit anchors to a bare dataset)"
    kwargs = {} if bpr_iou is None else {"iou_threshold": bpr_iou}
    try:
        return dataset_check.fit_report(train, target.input_size, target.grid_size, target.num_anchors,
                                        current=target.anchors, seed=seed, **kwargs), None
    except DatasetError as error:
        return None, f"== anchors: not fitted: {error}"


def _write_text(folder, name, lines):
    path = os.path.join(folder, name)
    write_atomically(path, lambda stream: stream.write("\n".join(lines) + ("\n" if lines else "")))
    return path
