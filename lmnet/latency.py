"""Measuring inference latency at batch size 1 (``executor/measure_latency.py``).

Two sections are timed, each run by run with :func:`time.perf_counter`:

* **overall**: one raw RGB ``uint8`` image → pre-processing → network → post-processing (all on
  the CPU but the network, which runs where its engine puts it);
* **network only**: the already pre-processed image ``float32 [1, H, W, 3]`` → raw network output.

Each section first runs :data:`WARMUP_RUNS` times untimed (graph tracing, memory allocation, lazy
initialisation of the engine), then ``step_size`` timed runs. The raw image is random ``uint8``
(seed 0) of the network input size, so the pre-processing does what it does on a camera frame of
that size; latency does not depend on the pixel values except for detection post-processing, whose
cost grows with the number of boxes left above the score threshold.

Engines:

* ``keras``: the Keras model restored from a checkpoint (or untrained when the experiment has
  none), called as ``model(images, training=False)`` like ``executor/predict.py``;
* an export format that a runtime engine reads (:data:`lmnet.runtime.layout.RUNTIME_FORMATS`:
  ``saved_model``, ``tflite_float``, ``tflite_int8`` and ``onnx``): that model file of an export
  folder (``executor/export.py``) on its engine, with the pre- and post-processors of its
  ``meta.yaml``, as the standalone runtime runs them.

:func:`latency_stats` turns the timings into statistics; the standard deviation is the
**population** one (divided by the number of runs, ``numpy.std``'s default): the runs are the whole
set being described, not a sample used to estimate another set's spread.
"""
import dataclasses
import datetime
import glob
import math
import os
import platform
import statistics
import time

import numpy as np

from lmnet import outputs
from lmnet.cli import native_log_lines_hidden
from lmnet.errors import ConfigError, ExperimentError
from lmnet.runtime.layout import FORMATS, META_FILE, RUNTIME_FORMATS

#: Untimed runs before each timed section.
WARMUP_RUNS = 5
#: Default number of timed runs per section.
DEFAULT_STEPS = 100
#: Name of the JSON report.
REPORT_FILE = "measure_latency.json"
#: The engine that runs the Keras model itself.
KERAS = "keras"
#: What ``--engine`` may time: the Keras model, or an export format a runtime engine reads (its name in the table).
ENGINES = (KERAS, *RUNTIME_FORMATS)


# ---------------------------------------------------------------- timing and statistics (pure)

def time_runs(function, runs, clock=time.perf_counter):
    """Calls ``function()`` ``runs`` times; returns the duration of each call in seconds (by ``clock``)."""
    durations = []
    for _ in range(runs):
        start = clock()
        function()
        durations.append(clock() - start)
    return durations


def measure(function, runs, warmup=WARMUP_RUNS, clock=time.perf_counter):
    """Runs ``function`` ``warmup`` times untimed, then returns the durations of ``runs`` timed calls."""
    for _ in range(warmup):
        function()
    return time_runs(function, runs, clock)


def latency_stats(timings):
    """Statistics of individual run durations (seconds) in milliseconds and frames per second.

    Returns:
        ``{"runs", "total_ms", "mean_ms", "std_ms", "median_ms", "min_ms", "max_ms", "fps",
        "fps_min", "fps_max"}``: ``std_ms`` is the population standard deviation, ``fps`` is
        ``1000 / mean_ms``, ``fps_min`` ``1000 / max_ms`` and ``fps_max`` ``1000 / min_ms``.

    Raises:
        ValueError: no timings.
    """
    values = [float(t) * 1000.0 for t in timings]
    if not values:
        raise ValueError("no timings to summarise")
    mean = statistics.fmean(values)
    low, high = min(values), max(values)
    return {"runs": len(values), "total_ms": math.fsum(values), "mean_ms": mean,
            "std_ms": statistics.pstdev(values, mu=mean), "median_ms": statistics.median(values),
            "min_ms": low, "max_ms": high, "fps": _fps(mean), "fps_min": _fps(high), "fps_max": _fps(low)}


def _fps(milliseconds):
    return 1000.0 / milliseconds if milliseconds > 0 else float("inf")


# ---------------------------------------------------------------- what is measured

@dataclasses.dataclass
class LatencyTarget:
    """A model ready to be timed.

    Attributes:
        engine: the engine name (:data:`ENGINES`).
        network: the network class name.
        task: the :class:`lmnet.common.Tasks` value.
        image_size: ``(height, width)`` of the network input.
        overall: ``f(raw image)``: pre-process, network, post-process.
        network_only: ``f(pre-processed batch [1, H, W, 3])``: the raw output.
        devices: devices the network runs on (strings).
        threads: the thread setting in effect (``None``: the engine's default).
        source: the checkpoint (keras) or the export folder.
    """

    engine: str
    network: str
    task: str
    image_size: tuple
    overall: object
    network_only: object
    devices: list
    threads: object
    source: str


def raw_image(image_size, seed=0):
    """The raw input: random RGB ``uint8`` of shape ``(height, width, 3)``."""
    return np.random.default_rng(seed).integers(0, 256, size=(*image_size, 3), dtype=np.uint8)


def configure_tensorflow(threads=None, cpu_only=False, log=print):
    """Sets TensorFlow's intra-op threads and hides the GPUs (``cpu_only``) when still possible.

    Both must happen before TensorFlow initialises its runtime; afterwards a warning is logged and
    the setting in effect is kept.

    Returns:
        The intra-op thread count in effect (``0``: TensorFlow's default, one per core).
    """
    import tensorflow as tf
    if cpu_only:
        try:
            tf.config.set_visible_devices([], "GPU")
        except RuntimeError as error:
            log(f"warning: --cpu: cannot hide the GPUs any more ({error})")
    if threads:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(int(threads))
        except RuntimeError as error:
            log(f"warning: --threads: TensorFlow is already initialised ({error})")
    return tf.config.threading.get_intra_op_parallelism_threads()


def tensorflow_devices():
    """TensorFlow's logical devices as ``"<name> (<type>)"`` strings."""
    import tensorflow as tf
    return [f"{device.name} ({device.device_type})" for device in tf.config.list_logical_devices()]


def _batch_predictor(task, classes, image_size, pre_processor, post_processor, run_network):
    from lmnet.runtime.inference import BatchPredictor, ModelSpec
    spec = ModelSpec(task=task, classes=list(classes), image_size=tuple(image_size), pre_processor=pre_processor,
                     post_processor=post_processor)
    return BatchPredictor(spec, run_network)


def _callables(predictor, image):
    """``(overall, network_only)`` closures of a :class:`BatchPredictor` on one raw image."""
    from lmnet.runtime.inference import preprocess
    batch = preprocess(image, predictor.spec.pre_processor, predictor.spec.image_size)[None]
    return (lambda: predictor([image])), (lambda: predictor.run_network(batch))


def keras_target(opened, threads=None):
    """The Keras model of an :class:`lmnet.experiment.OpenExperiment` as a :class:`LatencyTarget`."""
    from lmnet.predict import keras_predictor
    config, checkpoint = opened.config, opened.checkpoint
    predictor = keras_predictor(config, opened.network)
    overall, network_only = _callables(predictor, raw_image(config.IMAGE_SIZE))
    return LatencyTarget(engine=KERAS, network=config.NETWORK_CLASS.__name__, task=config.TASK,
                         image_size=tuple(config.IMAGE_SIZE), overall=overall, network_only=network_only,
                         devices=tensorflow_devices(), threads=threads,
                         source=checkpoint or "untrained (random initial weights)")


def create_export_engine(export_dir, engine, threads=None):
    """``(engine object with run(images), devices)`` for an export format of :data:`RUNTIME_FORMATS`.

    Args:
        export_dir: the export folder.
        engine: the export format's name (e.g. ``"tflite_int8"``); its runtime engine runs its file.
        threads: the engine's threads (``None``: its default).

    Raises:
        ExperimentError: the model file is missing.
        ConfigError: the engine's package is missing.
    """
    from lmnet.runtime.engines import create_engine
    with native_log_lines_hidden():  # TFLite's XNNPACK line
        runner = create_engine(export_dir, num_threads=threads, export_format=engine)
    kind = FORMATS[engine].engine
    if kind == "tflite":
        return runner, ["CPU (LiteRT interpreter, default XNNPACK delegate)"]
    if kind == "onnx":
        return runner, [f"CPU ({provider})" for provider in runner.session.get_providers()]
    return runner, tensorflow_devices()


def export_network_name(export_dir):
    """The network class name from the export's ``config.yaml`` (``"unknown"`` without one)."""
    from lmnet.runtime.layout import CONFIG_FILE
    from lmnet.yaml_io import read_yaml_mapping
    path = os.path.join(export_dir, CONFIG_FILE)
    if not os.path.isfile(path):
        return "unknown"
    return str(read_yaml_mapping(path).get("NETWORK_CLASS", "unknown")).rsplit(".", 1)[-1]


def export_target(export_dir, engine, threads=None):
    """An export folder's model on ``engine``, with the processors of its ``meta.yaml``, as a :class:`LatencyTarget`."""
    from lmnet.runtime.meta import load_meta
    meta = load_meta(export_dir)
    runner, devices = create_export_engine(export_dir, engine, threads)
    predictor = _batch_predictor(meta.task, meta.classes, meta.image_size, meta.pre_processor, meta.post_processor,
                                 runner.run)
    overall, network_only = _callables(predictor, raw_image(meta.image_size))
    return LatencyTarget(engine=engine, network=export_network_name(export_dir), task=meta.task,
                         image_size=tuple(meta.image_size), overall=overall, network_only=network_only,
                         devices=devices, threads=threads, source=export_dir)


def find_export(paths, image_size=None, checkpoint=None):
    """The newest export folder of an experiment (by the time of its ``meta.yaml``).

    Args:
        paths: the :class:`lmnet.environment.ExperimentPaths`.
        image_size: only exports of this ``(height, width)``.
        checkpoint: only exports of this checkpoint (prefix or file name).

    Raises:
        ExperimentError: no matching export.
    """
    candidates = glob.glob(os.path.join(paths.export, "*", "*", META_FILE))
    if checkpoint:
        candidates = [c for c in candidates if _parts(c)[0] == os.path.basename(checkpoint)]
    if image_size:
        candidates = [c for c in candidates if _parts(c)[1] == f"{image_size[0]}x{image_size[1]}"]
    if not candidates:
        wanted = " ".join(filter(None, [checkpoint and f"of {os.path.basename(checkpoint)}",
                                        image_size and f"at {image_size[0]}x{image_size[1]}"]))
        raise ExperimentError(f"no export {wanted + ' ' if wanted else ''}in {paths.export}; "
                              f"run executor/export.py -i {paths.experiment_id} first or pass --export_dir")
    return os.path.dirname(max(candidates, key=os.path.getmtime))


def _parts(meta_path):
    """``(checkpoint name, "<H>x<W>")`` of an export's ``meta.yaml`` path."""
    size_dir = os.path.dirname(meta_path)
    return os.path.basename(os.path.dirname(size_dir)), os.path.basename(size_dir)


# ---------------------------------------------------------------- the whole measurement

@dataclasses.dataclass
class LatencyRequest:
    """What to measure (the options of ``executor/measure_latency.py``).

    Attributes:
        experiment_id: a trained experiment (its config, checkpoint, exports).
        config_file: a config (alone: an untrained network; with ``experiment_id``: replaces its config).
        restore_path: a checkpoint prefix (default: the newest).
        image_size: ``(height, width)`` (default: the config's; for exports, selects the export).
        step_size: timed runs per section.
        engine: one of :data:`ENGINES`.
        export_dir: the export folder of the export formats (default: the experiment's newest export).
        threads: intra-op threads (``None``: each engine's default).
        cpu_only: hide the GPUs from TensorFlow.
        output: the JSON report's path.
        warmup: untimed runs before each section.
        overrides: ``--set KEY=VALUE`` strings applied to the config.
    """

    experiment_id: str = None
    config_file: str = None
    restore_path: str = None
    image_size: tuple = None
    step_size: int = DEFAULT_STEPS
    engine: str = KERAS
    export_dir: str = None
    threads: int = None
    cpu_only: bool = False
    output: str = None
    warmup: int = WARMUP_RUNS
    overrides: tuple = ()


def check_request(request):
    """Raises :class:`ConfigError` on an unknown engine, bad counts or a bad image size."""
    if request.engine not in ENGINES:
        raise ConfigError(f"--engine: unknown engine '{request.engine}'; choose one of {', '.join(ENGINES)}")
    if int(request.step_size) < 1:
        raise ConfigError(f"--step_size: must be at least 1, got {request.step_size}")
    if request.threads is not None and int(request.threads) < 1:
        raise ConfigError(f"--threads: must be at least 1, got {request.threads}")
    if request.image_size:
        from lmnet.export.exporter import check_image_size
        check_image_size(request.image_size)
    if request.experiment_id is None and request.config_file is None and request.export_dir is None:
        raise ConfigError("give an experiment (-i), a config file (-c) or, for an export format, --export_dir")
    if request.engine == KERAS and request.experiment_id is None and request.config_file is None:
        raise ConfigError("engine 'keras' needs an experiment (-i) or a config file (-c)")


def _experiment_paths(environment, request):
    if request.experiment_id is None:
        return None
    paths = environment.experiment(request.experiment_id)
    if not paths.exists():
        raise ExperimentError(f"experiment {paths.root} not found")
    return paths


def _open_keras(environment, request, paths):
    """The :class:`lmnet.experiment.OpenExperiment` of the request, at the requested size."""
    from lmnet import config as config_module, experiment
    from lmnet.export.meta import config_at_size
    from lmnet.profiling import config_classes

    def at_size(config):
        return config_at_size(config, request.image_size) if request.image_size else config

    if paths is not None:
        return experiment.open_experiment(environment, request.experiment_id, request.config_file,
                                          request.restore_path, classes=config_classes, require_checkpoint=False,
                                          configure=at_size, overrides=request.overrides)
    config = at_size(config_module.load(request.config_file, overrides=request.overrides))
    return experiment.open_config(config, environment.data_dir, request.restore_path, classes=config_classes)


def build_target(environment, request, threads):
    """The :class:`LatencyTarget` of a checked request."""
    paths = _experiment_paths(environment, request)
    if request.engine == KERAS:
        return keras_target(_open_keras(environment, request, paths), threads)
    if request.export_dir:
        export_dir = request.export_dir
    elif paths is not None:
        export_dir = find_export(paths, request.image_size, request.restore_path)
    else:
        raise ConfigError(f"engine '{request.engine}' reads an export folder: pass --export_dir or -i")
    target = export_target(export_dir, request.engine, threads)
    if request.image_size and tuple(request.image_size) != target.image_size:
        raise ConfigError(f"--image_size {request.image_size[0]} {request.image_size[1]} differs from the export's "
                          f"{target.image_size[0]}x{target.image_size[1]} ({export_dir})")
    return target


def default_output(environment, request):
    """``<experiment>/measure_latency.json``, else ``<export_dir>/…``, else ``$OUTPUT_DIR/<config name>/…``."""
    if request.experiment_id is not None:
        return environment.experiment(request.experiment_id).latency_report
    if request.export_dir:
        return os.path.join(request.export_dir, REPORT_FILE)
    name = os.path.splitext(os.path.basename(request.config_file))[0]
    return os.path.join(environment.output_dir, name, REPORT_FILE)


def measure_latency(environment, request, log=print):
    """Measures the latency of a request's model, writes the JSON report and returns it.

    Returns:
        ``(report dict, JSON path)``; see :func:`make_report` for the fields.

    Raises:
        LmnetError: bad options, a missing experiment, checkpoint or export.
    """
    check_request(request)
    threads = int(request.threads) if request.threads else None
    if request.engine == KERAS or FORMATS[request.engine].engine == "tensorflow":
        effective = configure_tensorflow(threads, request.cpu_only, log)
        threads = effective or None
    target = build_target(environment, request, threads)
    log(f"measuring {target.engine} latency of {target.network} at {target.image_size[0]}x{target.image_size[1]}: "
        f"{request.warmup} warm-up + {request.step_size} timed runs per section")
    overall = measure(target.overall, int(request.step_size), request.warmup)
    network = measure(target.network_only, int(request.step_size), request.warmup)
    report = make_report(target, request, latency_stats(overall), latency_stats(network))
    path = request.output or default_output(environment, request)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    outputs.write_json(path, report)
    return report, path


def make_report(target, request, overall, network_only):
    """The JSON report: the setting (engine, network, source, image size, threads, devices, host) and both sections."""
    return {"engine": target.engine, "network": target.network, "task": target.task,
            "experiment_id": request.experiment_id, "source": target.source,
            "image_size": list(target.image_size), "batch_size": 1, "step_size": int(request.step_size),
            "warmup_runs": int(request.warmup), "threads": target.threads, "cpu_only": bool(request.cpu_only),
            "devices": list(target.devices),
            "host": {"machine": platform.machine(), "cpu_count": os.cpu_count(), "python": platform.python_version()},
            "raw_image": {"shape": [*target.image_size, 3], "content": "random uint8, seed 0"},
            "std": "population", "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "overall": overall, "network_only": network_only}


SECTIONS = (("overall", "overall (raw image -> pre-process -> network -> post-process)"),
            ("network_only", "network only (pre-processed image -> raw output)"))


def format_report(report):
    """The report as the text printed by ``executor/measure_latency.py``."""
    lines = ["---- measure latency result ----",
             f"total number of execution (number of samples): {report['step_size']} per section "
             f"(after {report['warmup_runs']} warm-up runs)",
             f"network: {report['network']}", f"engine: {report['engine']}", f"source: {report['source']}",
             f"image size: {report['image_size']}", "batch size: 1",
             f"threads: {report['threads'] or 'engine default'}", f"devices: {report['devices']}"]
    for key, title in SECTIONS:
        stats = report[key]
        lines += ["", f"* {title}", f"total time: {stats['total_ms']:.4f} msec", "latency",
                  f"   mean (SD=population standard deviation): {stats['mean_ms']:.4f} "
                  f"(SD={stats['std_ms']:.4f}) msec, "
                  f"min: {stats['min_ms']:.4f} msec, max: {stats['max_ms']:.4f} msec, "
                  f"median: {stats['median_ms']:.4f} msec",
                  "FPS", f"   1000 / mean latency: {stats['fps']:.4f}, min: {stats['fps_min']:.4f} (at max latency), "
                  f"max: {stats['fps_max']:.4f} (at min latency)"]
    lines.append("---- measure latency result ----")
    return "\n".join(lines)
