"""Exporting a trained experiment: every file of ``saved/<id>/export/<checkpoint>/<H>x<W>/``.

:func:`export_experiment` restores a checkpoint into the network built at the export's image
size and writes, in this order (each step logged):

1. ``minimal_graph_with_shape.pb`` (:mod:`lmnet.export.graph`),
2. ``config.yaml`` and ``meta.yaml`` (:mod:`lmnet.export.meta`),
3. ``inference_test_data/`` with ``--images`` (:mod:`lmnet.export.debug_data`),
4. ``saved_model/``, ``model_float.tflite``, ``model_int8.tflite``, ``model.onnx``
   (:mod:`lmnet.export.formats`),
5. ``parity.json`` (:mod:`lmnet.export.parity`).
"""
import dataclasses
import os
import shutil
import time
import warnings

import numpy as np

from lmnet import builders, experiment, outputs
from lmnet.environment import Environment
from lmnet.errors import ConfigError, ExperimentError
from lmnet.evaluator import resolve_checkpoint
from lmnet.export import debug_data, formats, graph, meta, parity, samples
from lmnet.training.checkpoints import restore_weights

from lmnet.runtime.layout import (CONFIG_FILE, GRAPH_FILE, INFERENCE_TEST_DATA, META_FILE, ONNX_FILE,  # noqa: F401
                                  PARITY_FILE, SAVED_MODEL, TFLITE_FLOAT, TFLITE_INT8)

#: Validation images compared form by form when no ``--images`` are given.
PARITY_IMAGES = 4


@dataclasses.dataclass
class ExportResult:
    """What :func:`export_experiment` wrote.

    Attributes:
        directory: ``saved/<id>/export/<checkpoint name>/<H>x<W>``.
        checkpoint: the checkpoint prefix exported.
        image_size: ``[height, width]``.
        files: ``{"graph", "config", "meta", "saved_model", "tflite_float", "tflite_int8", "onnx",
            "parity"}`` → path, plus ``"inference_test_data"`` with ``--images``.
        parity: the content of ``parity.json``.
        unsupported_ops: op types outside the converter's list (normally empty).
    """

    directory: str
    checkpoint: str
    image_size: list
    files: dict
    parity: dict
    unsupported_ops: list


def export_directory(paths, checkpoint, image_size):
    """``<experiment>/export/<checkpoint file name>/<H>x<W>``."""
    return os.path.join(paths.root, "export", os.path.basename(checkpoint), f"{image_size[0]}x{image_size[1]}")


def check_image_size(image_size):
    """Returns ``image_size`` as ``[height, width]`` of positive ints.

    Raises:
        ConfigError: it is not two positive integers.
    """
    values = list(image_size)
    if len(values) != 2 or any(isinstance(v, bool) or int(v) != v or int(v) <= 0 for v in values):
        raise ConfigError(f"--image_size: expected two positive integers HEIGHT WIDTH, got {values}")
    return [int(v) for v in values]


class _Context:
    """The state shared by the export steps (config, network, data, output folder)."""

    def __init__(self, experiment_id, restore_path, image_size, config_file, environment):
        self.environment = environment or Environment.from_env()
        self.paths = self.environment.experiment(experiment_id)
        if not self.paths.exists():
            raise ExperimentError(f"experiment {self.paths.root} not found")
        self.config = experiment.load_experiment_config(self.paths, config_file)
        self.checkpoint = resolve_checkpoint(self.paths, restore_path)
        self.image_size = check_image_size(image_size) if image_size else list(self.config.IMAGE_SIZE)
        self.export_config = meta.config_at_size(self.config, self.image_size)
        self.validation = builders.build_dataset(self.export_config, self.environment.data_dir, "validation")
        self.classes = builders.dataset_classes(self.export_config, self.validation)
        self.network = builders.build_network(self.export_config, self.classes, mixed_precision=False)
        restore_weights(self.network.model, self.checkpoint)
        self.post_processor = builders.build_post_processor(self.export_config, self.network)
        self.directory = export_directory(self.paths, self.checkpoint, self.image_size)
        os.makedirs(self.directory, exist_ok=True)

    def path(self, name):
        """Path of ``name`` inside the export folder."""
        return os.path.join(self.directory, name)

    def keras_run(self, image):
        """The Keras model (inference mode) on one image ``[1, H, W, 3]``."""
        return self.network.model(np.asarray(image, np.float32), training=False).numpy()


def export_experiment(experiment_id, restore_path=None, image_size=None, images=(), config_file=None,
                      environment=None, metric_samples=64, calibration_samples=64, log=print):
    """Exports a checkpoint of an experiment (see the module docstring for the files).

    Args:
        experiment_id: the experiment under ``$OUTPUT_DIR``.
        restore_path: checkpoint prefix (default: the newest checkpoint of the experiment).
        image_size: ``(height, width)`` of the export (default: the config's ``IMAGE_SIZE``).
        images: image files for ``inference_test_data/`` and the parity comparison.
        config_file: a config to use instead of the experiment's ``config.yaml``.
        environment: an :class:`lmnet.environment.Environment` (default: from the process environment).
        metric_samples: validation samples for the int8 task-metric comparison.
        calibration_samples: training images calibrating the int8 model.
        log: receives one line per step.

    Returns:
        An :class:`ExportResult`.

    Raises:
        ExperimentError: unknown experiment, no or missing checkpoint, checkpoint not matching the network.
        ConfigError: bad image size or config.
        DatasetError: an image file is unreadable.
    """
    start = time.time()
    context = _Context(experiment_id, restore_path, image_size, config_file, environment)
    log(f"exporting {context.checkpoint} at {context.image_size[0]}x{context.image_size[1]} "
        f"into {context.directory}")
    files, unsupported, graph_def = _write_graph(context, log)
    files.update(_write_meta(context, log))
    export_images = samples.load_export_images(images, context.export_config.PRE_PROCESSOR, context.image_size)
    if export_images:
        log(f"[3/5] {INFERENCE_TEST_DATA}/ for {len(export_images)} image(s)")
        files["inference_test_data"] = context.path(INFERENCE_TEST_DATA)
        shutil.rmtree(files["inference_test_data"], ignore_errors=True)
        debug_data.write_inference_test_data(files["inference_test_data"], graph_def, export_images)
    files.update(_write_forms(context, calibration_samples, log))
    result = _parity(context, graph_def, export_images, metric_samples, log)
    files["parity"] = context.path(PARITY_FILE)
    parity.write_parity(files["parity"], result)
    log(parity.format_table(result))
    log(f"export done in {time.time() - start:.0f} s: {context.directory}")
    return ExportResult(context.directory, context.checkpoint, context.image_size, files, result, unsupported)


def _write_graph(context, log):
    log(f"[1/5] {GRAPH_FILE}")
    graph_def = graph.build_graph_def(context.network.model, context.image_size)
    unsupported = graph.unsupported_ops(graph_def)
    if unsupported:
        message = (f"the exported graph uses op types outside the hardware converter's list: "
                   f"{', '.join(unsupported)}")
        warnings.warn(message, stacklevel=2)
        log(f"warning: {message}")
    for message in graph.converter_limit_warnings(graph_def):
        warnings.warn(message, stacklevel=2)
        log(f"warning: {message}")
    path = context.path(GRAPH_FILE)
    _write_bytes(path, graph_def.SerializeToString())
    return {"graph": path}, unsupported, graph_def


def _write_meta(context, log):
    log(f"[2/5] {CONFIG_FILE}, {META_FILE}")
    config_path, meta_path = meta.write_config_and_meta(context.directory, context.config, context.export_config,
                                                        context.classes, context.post_processor)
    return {"config": config_path, "meta": meta_path}


def _write_forms(context, calibration_samples, log):
    model, size = context.network.model, context.image_size
    files = {"saved_model": context.path(SAVED_MODEL), "tflite_float": context.path(TFLITE_FLOAT),
             "tflite_int8": context.path(TFLITE_INT8), "onnx": context.path(ONNX_FILE)}
    log(f"[4/5] {SAVED_MODEL}/, {TFLITE_FLOAT}, {TFLITE_INT8} ({calibration_samples} calibration images), "
        f"{ONNX_FILE}")
    shutil.rmtree(files["saved_model"], ignore_errors=True)
    formats.save_saved_model(model, size, files["saved_model"])
    _write_bytes(files["tflite_float"], formats.tflite_float(model, size))
    calibration = samples.calibration_images(context.export_config, context.environment.data_dir,
                                             calibration_samples)
    _write_bytes(files["tflite_int8"], formats.tflite_int8(model, size, calibration))
    formats.save_onnx(model, size, files["onnx"])
    return files


def _write_bytes(path, data):
    outputs.write_atomically(path, lambda stream: stream.write(data), mode="wb")


def _parity(context, graph_def, export_images, metric_samples, log):
    log(f"[5/5] {PARITY_FILE}: comparing every form with the Keras model")
    if export_images:
        images, source = np.concatenate([image.preprocessed for image in export_images]), "export images"
    else:
        images, _ = samples.dataset_samples(context.export_config, context.validation, PARITY_IMAGES)
        source = "validation images"
    runners = {"pb": graph.graph_runner(graph_def),
               "saved_model": formats.saved_model_runner(context.path(SAVED_MODEL)),
               "tflite_float": formats.tflite_runner(context.path(TFLITE_FLOAT)),
               "tflite_int8": formats.tflite_runner(context.path(TFLITE_INT8)),
               "onnx": formats.onnx_runner(context.path(ONNX_FILE))}
    diffs = parity.max_abs_diffs(context.keras_run, runners, images)
    metric_images, targets = samples.dataset_samples(context.export_config, context.validation, metric_samples)
    task = parity.int8_task_change(context.export_config.TASK, context.keras_run, runners["tflite_int8"],
                                   metric_images, targets, dataset=context.validation,
                                   post_processor=context.post_processor, classes=context.classes,
                                   image_size=context.image_size)
    return {"compared_on": source, "num_images": int(len(images)), "max_abs_diff": diffs,
            "int8_task": task, "int8_float_ops": formats.tflite_float_ops(context.path(TFLITE_INT8))}
