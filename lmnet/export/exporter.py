"""Exporting a trained experiment: every file of ``saved/<id>/export/<checkpoint>/<H>x<W>/``.

:func:`export_experiment` restores a checkpoint into the network built at the export's image
size and writes, in this order (each step logged as ``[k/n]``):

1. ``config.yaml`` and ``meta.yaml`` (:mod:`lmnet.export.meta`), always;
2. one step per selected export format of :data:`lmnet.runtime.layout.EXPORT_FORMATS`, in table
   order (default: all): ``minimal_graph_with_shape.pb`` (:mod:`lmnet.export.graph`),
   ``saved_model/``, ``model_float.tflite``, ``model_int8.tflite``, ``model.onnx``
   (:mod:`lmnet.export.formats`), ``model_qonnx.onnx`` (:mod:`lmnet.export.qonnx`, run for the parity check
   by qonnx's executor), and when asked for, ``hls4ml_prj/`` (:mod:`lmnet.export.hls4ml_project`, its C++
   emulation compiled and run for the parity check); :data:`FORM_WRITERS` holds each format's writer and runner;
3. ``inference_test_data/`` with ``--images`` when ``pb`` is written (:mod:`lmnet.export.debug_data`);
4. ``parity.json`` comparing the written formats with the Keras model (:mod:`lmnet.export.parity`), always:
   the final outputs, each form layer by layer (:mod:`lmnet.export.layer_parity`), the task metric of the int8
   model and of the hls4ml emulation, and the forms that miss their tolerance. Those fail the export
   (:class:`ParityError`, after every file is written) unless ``accept_parity_failures`` is set.
"""
import dataclasses
import os
import shutil
import tempfile
import time
import warnings

import numpy as np

from lmnet import builders, experiment, outputs
from lmnet.common import Tasks
from lmnet.environment import Environment
from lmnet.errors import ConfigError, ExperimentError, LmnetError
from lmnet.export import (converter_ranges, debug_data, formats, graph, hls4ml_project, layer_parity, meta, parity,
                          qonnx, qonnx_checks, samples)

from lmnet.runtime.layout import (CONFIG_FILE, EXPORT_FORMATS, FORMATS, GRAPH_FILE,  # noqa: F401
                                  INFERENCE_TEST_DATA, META_FILE, ONNX_FILE, PARITY_FILE, QONNX_FILE, SAVED_MODEL,
                                  TFLITE_FLOAT, TFLITE_INT8, select_formats)

#: Validation images compared form by form when no ``--images`` are given.
PARITY_IMAGES = 4


class ParityError(LmnetError):
    """An export form misses its parity tolerance (the files are written; the message names form and layer)."""


@dataclasses.dataclass
class ExportResult:
    """What :func:`export_experiment` wrote.

    Attributes:
        directory: ``saved/<id>/export/<checkpoint name>/<H>x<W>``.
        checkpoint: the checkpoint prefix exported.
        image_size: ``[height, width]``.
        files: path of each written export format by its name (``"pb"``, ``"saved_model"``,
            ``"tflite_float"``, ``"tflite_int8"``, ``"onnx"``, ``"qonnx"``), and of ``"config"``, ``"meta"``,
            ``"parity"``, plus ``"inference_test_data"`` with ``--images`` and ``pb``.
        parity: the content of ``parity.json``.
        unsupported_ops: op types of the frozen graph outside the converter's list (normally empty;
            empty too when ``pb`` is not written).
    """

    directory: str
    checkpoint: str
    image_size: list
    files: dict
    parity: dict
    unsupported_ops: list


def export_directory(paths, checkpoint, image_size):
    """``<experiment>/export/<checkpoint file name>/<H>x<W>``."""
    return os.path.join(paths.export, os.path.basename(checkpoint), f"{image_size[0]}x{image_size[1]}")


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

    def __init__(self, experiment_id, restore_path, image_size, config_file, environment, log, overrides=()):
        self.log = log
        self.graph_def = None
        self.pb_scaled_layers = {}  # layer name -> k: the frozen graph computes its output divided by k
        self.hls4ml = None
        self.format_names = ()
        self.layer_nodes = {}
        self.calibration = None
        self.unsupported_ops = []
        self.calibration_samples = 0
        self.environment = environment or Environment.from_env()
        self.paths = self.environment.experiment(experiment_id)
        if not self.paths.exists():
            raise ExperimentError(f"experiment {self.paths.root} not found")

        def at_export_size(config):
            self.image_size = check_image_size(image_size) if image_size else list(config.IMAGE_SIZE)
            return meta.config_at_size(config, self.image_size)

        opened = experiment.open_experiment(self.environment, experiment_id, config_file, restore_path,
                                            configure=at_export_size, mixed_precision=False, overrides=overrides)
        self.config, self.export_config = opened.loaded_config, opened.config
        self.checkpoint, self.validation, self.classes = opened.checkpoint, opened.dataset, opened.classes
        self.network = opened.network
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
                      environment=None, metric_samples=64, calibration_samples=64, formats=None, log=print,
                      overrides=(), accept_parity_failures=False, emulation_samples=16):
    """Exports a checkpoint of an experiment (see the module docstring for the files).

    Args:
        experiment_id: the experiment under ``$OUTPUT_DIR``.
        restore_path: checkpoint prefix (default: the newest checkpoint of the experiment).
        image_size: ``(height, width)`` of the export (default: the config's ``IMAGE_SIZE``).
        images: image files for ``inference_test_data/`` and the parity comparison.
        config_file: a config to use instead of the experiment's ``config.yaml``.
        environment: an :class:`lmnet.environment.Environment` (default: from the process environment).
        metric_samples: validation samples for the int8 task-metric comparison.
        emulation_samples: validation samples for the hls4ml emulation's task-metric comparison (its C++
            emulation is slow: about 4 s per image for LmnetV1Quantize at 32x32 on one core).
        calibration_samples: training images calibrating the int8 model.
        formats: the export formats to write, names of :data:`lmnet.runtime.layout.EXPORT_FORMATS` as a
            sequence or a comma-separated string (default ``None``: all).
        log: receives one line per step.
        overrides: ``--set KEY=VALUE`` strings applied to the config.
        accept_parity_failures: return normally even when a form misses its parity tolerance.

    Returns:
        An :class:`ExportResult`.

    Raises:
        ExperimentError: unknown experiment, no or missing checkpoint, checkpoint not matching the network.
        ConfigError: bad image size, config or format name.
        DatasetError: an image file is unreadable.
        ParityError: a form misses its tolerance (unless ``accept_parity_failures``); every file is written.
    """
    start = time.time()
    selected = select_formats(formats)
    if any(item.name == "hls4ml" for item in selected):
        hls4ml_project.check_toolchain()  # before anything is written
    context = _Context(experiment_id, restore_path, image_size, config_file, environment, log, overrides)
    context.calibration_samples = calibration_samples
    context.format_names = tuple(item.name for item in selected)
    context.task_samples = {parity.INT8_FORM: metric_samples, "hls4ml": emulation_samples}
    export_images = samples.load_export_images(images, context.export_config.PRE_PROCESSOR, context.image_size)
    debug = bool(export_images) and any(item.name == "pb" for item in selected)
    steps = _StepLog(log, 2 + len(selected) + debug)
    log(f"exporting {context.checkpoint} at {context.image_size[0]}x{context.image_size[1]} "
        f"into {context.directory}: {', '.join(item.name for item in selected)}")
    files = _write_meta(context, steps)
    files.update(_write_forms(context, selected, steps))
    if debug:
        files["inference_test_data"] = _write_debug_data(context, export_images, steps)
    elif export_images:
        log(f"no {INFERENCE_TEST_DATA}/: it holds the frozen graph's node outputs and pb is not exported")
    _note_earlier_files(context, selected, debug)
    result = _parity(context, selected, export_images, steps)
    files["parity"] = context.path(PARITY_FILE)
    parity.write_parity(files["parity"], result)
    log(parity.format_table(result))
    log(f"export done in {time.time() - start:.0f} s: {context.directory}")
    if result["failed"] and not accept_parity_failures:
        raise ParityError(f"{'; '.join(result['failed'].values())} (every file is written, see "
                          f"{files['parity']}; --accept_parity_failures exports anyway)")
    return ExportResult(context.directory, context.checkpoint, context.image_size, files, result,
                        context.unsupported_ops)


class _StepLog:
    """Logs ``[k/n] what`` lines, counting the steps."""

    def __init__(self, log, total):
        self.log, self.total, self.done = log, total, 0

    def __call__(self, what):
        self.done += 1
        self.log(f"[{self.done}/{self.total}] {what}")


def _write_meta(context, step):
    step(f"{CONFIG_FILE}, {META_FILE}")
    config_path, meta_path = meta.write_config_and_meta(context.directory, context.config, context.export_config,
                                                        context.classes, context.post_processor)
    return {"config": config_path, "meta": meta_path}


def _write_forms(context, selected, step):
    """Writes each selected format with its writer of :data:`FORM_WRITERS`; returns ``{name: path}``."""
    files = {}
    for item in selected:
        writer = FORM_WRITERS[item.name]
        step(f"{item.name}: {item.file}{writer.note(context)}")
        files[item.name] = context.path(item.file)
        writer.write(context, files[item.name])
    return files


def _write_debug_data(context, export_images, step):
    step(f"{INFERENCE_TEST_DATA}/ for {len(export_images)} image(s)")
    folder = context.path(INFERENCE_TEST_DATA)
    shutil.rmtree(folder, ignore_errors=True)
    debug_data.write_inference_test_data(folder, context.graph_def, export_images)
    return folder


def _note_earlier_files(context, selected, debug):
    """Logs the files of formats not selected (and ``inference_test_data/``) that an earlier export left."""
    names = {item.name for item in selected}
    left = [item.file for item in EXPORT_FORMATS if item.name not in names and os.path.exists(context.path(item.file))]
    if not debug and os.path.exists(context.path(INFERENCE_TEST_DATA)):
        left.append(f"{INFERENCE_TEST_DATA}/")
    if left:
        context.log(f"kept from an earlier export (not written now, not in {PARITY_FILE}): {', '.join(left)}")


# ---------------------------------------------------------------- one writer and one runner per export format

def _write_pb(context, path):
    ranges = converter_ranges.converter_values(context.network.model)
    if ranges.moved:
        shown = ", ".join(f"{name} x{k:.4g}" for name, k in ranges.moved.items())
        context.log(f"pb: learned ranges moved to max_value {graph.DLK_UNTHRESHOLDED_INPUT}, the one Blueoil's "
                    f"converter assumes, with the batch norms before and the kernels after rescaled (same outputs): "
                    f"{shown}")
    for name, reason in ranges.kept.items():
        context.log(f"pb: the learned range of {name} stays as trained: {reason}")
    graph_def = graph.build_graph_def(context.network.model, context.image_size, context.layer_nodes,
                                      values=ranges.values)
    context.pb_scaled_layers = ranges.scaled_layers
    context.unsupported_ops = graph.unsupported_ops(graph_def)
    messages = list(graph.converter_limit_warnings(graph_def))
    if context.unsupported_ops:
        messages.insert(0, f"the exported graph uses op types outside the hardware converter's list: "
                           f"{', '.join(context.unsupported_ops)}")
    messages.extend(_decoding_warnings(context.network))
    for message in messages:
        warnings.warn(message, stacklevel=2)
        context.log(f"warning: {message}")
    _write_bytes(path, graph_def.SerializeToString())
    context.graph_def = graph_def


def _decoding_warnings(network):
    """Why upstream Blueoil's runtimes would decode a detector's output wrongly (none for other tasks)."""
    if network.task != Tasks.OBJECT_DETECTION:
        return []
    name, messages = type(network).__name__, []
    stride = network.size_divisor
    if stride != 32:
        messages.append(f"{name} predicts on a stride-{stride} grid; upstream Blueoil's Python runtime decodes "
                        "FormatYoloV2 on a stride-32 grid only (num_cell = image_size // 32), so decode this "
                        "export's output with lmnet's runtime (python -m lmnet.runtime)")
    margin = network.loss.centre_margin
    if margin:
        messages.append(f"{name} was trained with neighbour-cell assignment (NETWORK.LOSS_NEIGHBOUR_CELLS): box "
                        f"centres decode as (1 + 2m)·sigmoid(t) − m with m = {margin} (meta.yaml's FormatYoloV2 "
                        "centre_margin), which upstream Blueoil's runtimes do not read; decode this export's "
                        "output with lmnet's runtime (python -m lmnet.runtime)")
    return messages


def _write_saved_model(context, path):
    shutil.rmtree(path, ignore_errors=True)
    formats.save_saved_model(context.network.model, context.image_size, path)


def _write_tflite_float(context, path):
    _write_bytes(path, formats.tflite_float(context.network.model, context.image_size))


def _write_tflite_int8(context, path):
    context.calibration = samples.calibration_images(context.export_config, context.environment.data_dir,
                                                     context.calibration_samples)
    _write_bytes(path, formats.tflite_int8(context.network.model, context.image_size, context.calibration))


def _write_onnx(context, path):
    formats.save_onnx(context.network.model, context.image_size, path)


def _write_qonnx(context, path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        proto = qonnx.build_qonnx(context.network.model, context.image_size)
    for warning in caught:
        warnings.warn(str(warning.message), stacklevel=2)
        context.log(f"warning: {warning.message}")
    _write_bytes(path, proto.SerializeToString())


def _write_hls4ml(context, path):
    """The hls4ml project of the QONNX model (written now into a temporary file when ``qonnx`` is not exported)."""
    model = context.network.model
    shape_and_name = (model.output_shape[1:], model.layers[-1].name)
    if "qonnx" in context.format_names:  # written by the step before
        context.hls4ml = hls4ml_project.build_project(context.path(QONNX_FILE), path, *shape_and_name,
                                                      log=context.log)
        return
    with tempfile.TemporaryDirectory(prefix="lmnet_qonnx_") as folder:
        qonnx_path = os.path.join(folder, QONNX_FILE)
        _write_qonnx(context, qonnx_path)
        context.hls4ml = hls4ml_project.build_project(qonnx_path, path, *shape_and_name, log=context.log)


def _write_bytes(path, data):
    outputs.write_atomically(path, lambda stream: stream.write(data), mode="wb")


def _trace_probe(convert, trace):
    """A per-layer tracer of a converted form: the probe (:func:`lmnet.export.layer_parity.probe_model`) is
    converted with ``convert(context, probe, path)`` into a temporary file and read with ``trace``."""
    def run(context, path, images):
        names = layer_parity.checkpoint_layers(context.network.model)
        probe = layer_parity.probe_model(context.network.model, names)
        with tempfile.TemporaryDirectory(prefix="lmnet_probe_") as folder:
            probe_path = os.path.join(folder, "probe")
            convert(context, probe, probe_path)
            return trace(probe_path, images, names)
    return run


def _probe_tflite_float(context, probe, path):
    _write_bytes(path, formats.tflite_float(probe, context.image_size))


def _probe_int8(context, probe, path):
    _write_bytes(path, formats.tflite_int8(probe, context.image_size, context.calibration))


def _probe_onnx(context, probe, path):
    formats.save_onnx(probe, context.image_size, path)


def _trace_pb(context, path, images):
    """The frozen graph's layers, those with a moved range (:mod:`lmnet.export.converter_ranges`) in Keras' scale."""
    traced = layer_parity.trace_pb(context.graph_def, context.layer_nodes, images)
    return {layer: outputs * context.pb_scaled_layers.get(layer, 1.0) for layer, outputs in traced.items()}


def _trace_qonnx(context, path, images):
    return layer_parity.trace_qonnx(path, images)


@dataclasses.dataclass(frozen=True)
class FormWriter:
    """How the exporter writes one export format and checks it against the Keras model.

    Attributes:
        write: ``write(context, path)`` writes the format's file.
        runner: ``runner(context, path)`` returns ``f(image [1, H, W, 3]) -> raw output`` of the written file.
        note: ``note(context)`` returns text added to the step's log line (default: none).
        trace: ``trace(context, path, images) -> {layer name: outputs}`` of the layers the form shows
            (:mod:`lmnet.export.layer_parity`), or ``None`` for the final output only.
    """

    write: object
    runner: object
    note: object = lambda context: ""
    trace: object = None


#: The writer and runner of every format of :data:`lmnet.runtime.layout.EXPORT_FORMATS`, by its name.
FORM_WRITERS = {
    "pb": FormWriter(_write_pb, lambda context, path: graph.graph_runner(context.graph_def), trace=_trace_pb),
    "saved_model": FormWriter(_write_saved_model, lambda context, path: formats.saved_model_runner(path)),
    "tflite_float": FormWriter(_write_tflite_float, lambda context, path: formats.tflite_runner(path),
                               trace=_trace_probe(_probe_tflite_float, layer_parity.trace_tflite)),
    "tflite_int8": FormWriter(_write_tflite_int8, lambda context, path: formats.tflite_runner(path),
                              note=lambda context: f" ({context.calibration_samples} calibration images)",
                              trace=_trace_probe(_probe_int8, layer_parity.trace_tflite)),
    "onnx": FormWriter(_write_onnx, lambda context, path: formats.onnx_runner(path),
                       trace=_trace_probe(_probe_onnx, layer_parity.trace_onnx)),
    "qonnx": FormWriter(_write_qonnx, lambda context, path: qonnx_checks.qonnx_runner(path), trace=_trace_qonnx),
    "hls4ml": FormWriter(_write_hls4ml, lambda context, path: context.hls4ml.run,
                         note=lambda context: " (hls4ml conversion and g++ compile: minutes)",
                         trace=lambda context, path, images: context.hls4ml.layer_outputs(images)),
}


# ---------------------------------------------------------------- parity

def _parity(context, selected, export_images, step):
    """``parity.json``'s content: every written format against the Keras model, and the int8 task metric."""
    step(f"{PARITY_FILE}: comparing {', '.join(item.name for item in selected)} with the Keras model")
    if export_images:
        images, source = np.concatenate([image.preprocessed for image in export_images]), "export images"
    else:
        images, _ = samples.dataset_samples(context.export_config, context.validation, PARITY_IMAGES)
        source = "validation images"
    runners = {item.name: FORM_WRITERS[item.name].runner(context, context.path(item.file)) for item in selected}
    result = {"compared_on": source, "num_images": int(len(images)),
              "max_abs_diff": parity.max_abs_diffs(context.keras_run, runners, images),
              "layers": _layer_parity(context, selected, images)}
    for form in (form for form in parity.TASK_FORMS if form in runners):
        metric_images, targets = samples.dataset_samples(context.export_config, context.validation,
                                                         context.task_samples[form])
        result[parity.task_key(form)] = parity.task_change(
            context.export_config.TASK, context.keras_run, runners[form], metric_images, targets, form,
            dataset=context.validation, post_processor=context.post_processor, classes=context.classes,
            image_size=context.image_size)
    if parity.INT8_FORM in runners:
        result["int8_float_ops"] = formats.tflite_float_ops(context.path(FORMATS[parity.INT8_FORM].file))
    result["failed"] = parity.failures(result, _output_scale(context, images))
    return result


def _output_scale(context, images):
    return max(1.0, float(np.max(np.abs(parity.run_batch(context.keras_run, images)))))


def _layer_parity(context, selected, images):
    """``{form: per-layer report}`` of the forms with a tracer (:mod:`lmnet.export.layer_parity`)."""
    model = context.network.model
    reference = layer_parity.keras_layer_outputs(model, images)
    reports = {}
    for item in selected:
        trace = FORM_WRITERS[item.name].trace
        if trace is not None:
            traced = trace(context, context.path(item.file), images)
            reports[item.name] = layer_parity.layer_report(model, reference, traced, item.name)
    return reports
