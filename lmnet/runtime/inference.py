"""The prediction loop shared by ``executor/predict.py`` and the standalone runtime.

Reading the images of a folder (skipping unreadable files), pre-processing, batching, post-processing
and writing ``npy/<batch>.npy``, ``json/<batch>.json`` and ``images/<name>.png`` (drawn by
:mod:`lmnet.visualize`) are all done here; the caller only supplies the model as a function of a
pre-processed batch. NumPy and Pillow only (``tqdm`` is used for the progress bar when it is installed).
"""
import collections
import dataclasses
import os
import sys

import numpy as np
from PIL import Image

from lmnet.errors import DatasetError
from lmnet.image_io import load_image
from lmnet.outputs import claim_output_folder, write_json
from lmnet.pre_processor import resize_image
from lmnet.runtime import results
from lmnet.visualize import DEFAULT_DISPLAY_THRESHOLD, check_display_threshold, draw_prediction


def list_files(input_dir):
    """Every regular file directly in ``input_dir``, sorted by name (absolute paths).

    Raises:
        DatasetError: ``input_dir`` is not a folder.
    """
    if not os.path.isdir(input_dir):
        raise DatasetError(f"input folder {input_dir} not found")
    names = sorted(os.listdir(input_dir))
    return [os.path.abspath(os.path.join(input_dir, name)) for name in names
            if os.path.isfile(os.path.join(input_dir, name))]


def preprocess(image, pre_processor, image_size):
    """Pre-processes one RGB ``uint8`` image into the network input ``float32 (H, W, 3)``.

    When the pre-processor does not bring the image to ``image_size`` (e.g. it has no ``Resize``),
    the raw image is first resized bilinearly to ``image_size`` and pre-processed again.

    Raises:
        DatasetError: the result still has the wrong shape.
    """
    expected = (*image_size, 3)
    processed = _apply_pre_processor(image, pre_processor)
    if processed.shape != expected:
        processed = _apply_pre_processor(resize_image(image, image_size), pre_processor)
    if processed.shape != expected:
        raise DatasetError(f"pre-processing gives an image of shape {processed.shape}, expected {expected}")
    return processed


def _apply_pre_processor(image, pre_processor):
    """The pre-processed image as ``float32`` (the image itself without a pre-processor)."""
    if pre_processor is not None:
        image = pre_processor(image=image)["image"]
    return np.asarray(image, dtype=np.float32)


def postprocess(outputs, post_processor):
    """Applies ``post_processor`` (or nothing) to a batch of raw network outputs."""
    outputs = np.asarray(outputs)
    if post_processor is None:
        return outputs
    return np.asarray(post_processor(outputs=outputs)["outputs"])


@dataclasses.dataclass
class ModelSpec:
    """What the loop needs to know about the model.

    Attributes:
        task: a :class:`lmnet.common.Tasks` value.
        classes: the class names.
        image_size: ``(height, width)`` of the network input.
        pre_processor: processor applied to each raw image (or ``None``).
        post_processor: processor applied to each batch of raw outputs (or ``None``).
    """

    task: str
    classes: list
    image_size: tuple
    pre_processor: object = None
    post_processor: object = None


class BatchPredictor:
    """Raw RGB images → post-processed outputs, around a function running the network.

    Args:
        spec: the :class:`ModelSpec`.
        run_network: ``f(images float32 [B, H, W, 3]) -> raw outputs [B, ...]``.
    """

    def __init__(self, spec, run_network):
        self.spec = spec
        self.run_network = run_network

    def __call__(self, images):
        """Returns the post-processed outputs ``[B, ...]`` of a list of raw RGB ``uint8`` images."""
        batch = np.stack([preprocess(image, self.spec.pre_processor, self.spec.image_size) for image in images])
        return postprocess(self.run_network(batch), self.spec.post_processor)

    def predictions(self, images, outputs=None):
        """Per-image ``prediction`` lists (see :mod:`lmnet.runtime.results`) of raw images."""
        outputs = self(images) if outputs is None else outputs
        return [results.image_prediction(self.spec.task, output, self.spec.classes, self.spec.image_size,
                                         image.shape[:2]) for image, output in zip(images, outputs)]


def output_image_names(paths):
    """``{path: png name}``: the file's stem + ``.png``, or its whole name + ``.png`` when stems clash."""
    stems = [os.path.splitext(os.path.basename(path))[0] for path in paths]
    counts = collections.Counter(stems)
    return {path: (stem if counts[stem] == 1 else os.path.basename(path)) + ".png" for path, stem in zip(paths, stems)}


@dataclasses.dataclass
class PredictionSummary:
    """What one prediction run did.

    Attributes:
        num_images: images predicted.
        num_batches: batches written.
        skipped: ``[(path, reason)]`` of the unreadable files.
        json_paths: the JSON files written, by batch.
    """

    num_images: int = 0
    num_batches: int = 0
    skipped: list = dataclasses.field(default_factory=list)
    json_paths: list = dataclasses.field(default_factory=list)

    def line(self):
        """The one-line summary printed at the end."""
        return (f"predicted {self.num_images} images in {self.num_batches} batches; "
                f"{len(self.skipped)} unreadable files skipped")


#: What a prediction run writes into its output folder: arrays, JSON results, drawn images.
OUTPUT_ENTRIES = ("npy", "json", "images")


class PredictionWriter:
    """Writes the ``npy/``, ``json/`` and ``images/`` outputs of each batch, and those of any extra outputs.

    Args:
        output_dir: the output folder (created).
        spec: the :class:`ModelSpec`.
        image_names: ``{path: png name}`` (see :func:`output_image_names`).
        save_images: also write the drawn images.
        display_threshold: detection boxes scoring below it are left out of the drawn images (not of
            the ``npy`` and JSON outputs).
        extra_outputs: more per-image outputs, each an object with an ``entry`` (its folder's name) and
            ``write(folder, names, images, predictions)`` writing one file per image of a batch
            (e.g. :class:`lmnet.activation_maps.ActivationMapWriter`).
    """

    def __init__(self, output_dir, spec, image_names, save_images=True, display_threshold=DEFAULT_DISPLAY_THRESHOLD,
                 extra_outputs=()):
        self.output_dir = output_dir
        self.spec = spec
        self.image_names = image_names
        self.save_images = save_images
        self.display_threshold = display_threshold
        self.extra_outputs = list(extra_outputs)
        folders = OUTPUT_ENTRIES if save_images else OUTPUT_ENTRIES[:2]
        for sub in (*folders, *(extra.entry for extra in self.extra_outputs)):
            os.makedirs(os.path.join(output_dir, sub), exist_ok=True)

    def write(self, batch_index, paths, images, outputs, predictions):
        """Writes one batch; returns the JSON file's path."""
        np.save(os.path.join(self.output_dir, "npy", f"{batch_index}.npy"), outputs)
        entries = [{"file_path": path, "prediction": prediction} for path, prediction in zip(paths, predictions)]
        document = results.result_document(self.spec.task, self.spec.classes, entries)
        json_path = os.path.join(self.output_dir, "json", f"{batch_index}.json")
        write_json(json_path, document)
        names = [self.image_names[path] for path in paths]
        if self.save_images:
            for name, image, prediction in zip(names, images, predictions):
                drawn = draw_prediction(image, prediction, self.spec.task, self.spec.classes, self.display_threshold)
                Image.fromarray(drawn).save(os.path.join(self.output_dir, "images", name))
        for extra in self.extra_outputs:
            extra.write(os.path.join(self.output_dir, extra.entry), names, images, predictions)
        return json_path


def _progress(total, enabled):
    """A tqdm bar over ``total`` files, or a no-op object when tqdm is missing or disabled."""
    try:
        from tqdm import tqdm
    except ImportError:
        tqdm = None
    if tqdm is None or not enabled:
        return _NoProgress()
    return tqdm(total=total, desc="predict", unit="image", leave=False)


class _NoProgress:
    """Stands in for a tqdm bar."""

    def update(self, count=1):
        """Does nothing."""

    def close(self):
        """Does nothing."""


def read_batches(paths, batch_size, summary, on_skip, progress):
    """Yields ``(paths, images)`` batches of readable images; unreadable files go to ``summary.skipped``."""
    batch_paths, batch_images = [], []
    for path in paths:
        try:
            image = load_image(path)
        except DatasetError as error:
            summary.skipped.append((path, str(error)))
            on_skip(path, error)
            image = None
        progress.update(1)
        if image is None:
            continue
        batch_paths.append(path)
        batch_images.append(image)
        if len(batch_images) == batch_size:
            yield batch_paths, batch_images
            batch_paths, batch_images = [], []
    if batch_images:
        yield batch_paths, batch_images


def _report_skip(path, error):
    """Names an unreadable file on stderr."""
    print(f"skipped unreadable file {os.path.basename(path)}: {error}", file=sys.stderr)


def predict_folder(predictor, input_dir, output_dir, batch_size, save_images=True, progress=True, log=print,
                   overwrite=False, display_threshold=DEFAULT_DISPLAY_THRESHOLD, extra_outputs=()):
    """Predicts every image file of ``input_dir`` and writes the outputs into ``output_dir``.

    Args:
        predictor: a :class:`BatchPredictor`.
        input_dir: folder of image files (any size and mode; unreadable files are skipped and
            named on stderr).
        output_dir: where ``npy/``, ``json/`` and ``images/`` are written.
        batch_size: images per batch (and per ``npy``/``json`` file).
        save_images: write the drawn images.
        progress: show a progress bar.
        log: receives the summary line.
        overwrite: replace an earlier run's results in ``output_dir`` (else they are refused; see
            :func:`lmnet.outputs.claim_output_folder`).
        display_threshold: detection boxes scoring below it are not drawn (the ``npy`` and JSON
            outputs keep them).
        extra_outputs: more per-image outputs (see :class:`PredictionWriter`).

    Returns:
        The :class:`PredictionSummary`.

    Raises:
        DatasetError: the folder has no readable image.
        OutputError: ``output_dir`` holds an earlier run's results and ``overwrite`` is false.
        LmnetError: ``display_threshold`` is not in ``[0, 1]``.
    """
    display_threshold = check_display_threshold(display_threshold)
    paths = list_files(input_dir)
    entries = (*OUTPUT_ENTRIES, *(extra.entry for extra in extra_outputs))
    claim_output_folder(output_dir, "predict", entries, overwrite=overwrite, log=log)
    writer = PredictionWriter(output_dir, predictor.spec, output_image_names(paths), save_images, display_threshold,
                              extra_outputs)
    summary = PredictionSummary()
    bar = _progress(len(paths), progress)
    try:
        for batch_paths, images in read_batches(paths, max(1, int(batch_size)), summary, _report_skip, bar):
            outputs = predictor(images)
            predictions = predictor.predictions(images, outputs)
            summary.json_paths.append(writer.write(summary.num_batches, batch_paths, images, outputs, predictions))
            summary.num_batches += 1
            summary.num_images += len(images)
    finally:
        bar.close()
    if summary.num_images == 0:
        raise DatasetError(f"no readable image in {input_dir} ({len(summary.skipped)} unreadable files)")
    log(summary.line())
    return summary
