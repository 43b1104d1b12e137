"""Inference engines running an exported model: TFLite (ai-edge-litert), ONNX Runtime, TensorFlow.

Every exported model takes the pre-processed ``float32`` image ``[1, H, W, 3]`` and returns the raw
network output. An engine's :meth:`Engine.run` takes a batch ``[B, H, W, 3]`` and returns
``[B, ...]`` (feeding one image at a time to batch-1 models). Each engine's package is imported
only when that engine is created, so the runtime needs just the one it uses. A model file the engine
cannot load (truncated, overwritten, another format) is an :class:`~lmnet.errors.ExperimentError` naming it.
"""
import contextlib
import os
import re

import numpy as np

from lmnet.errors import ConfigError, ExperimentError
from lmnet.runtime.layout import EXPORT_FORMATS, RUNTIME_FORMATS, default_format, get_format

#: The engine used when neither an engine nor a format is given.
DEFAULT_ENGINE = "onnx"
#: The pip package that provides each engine.
ENGINE_PACKAGES = {"tflite": "ai-edge-litert", "onnx": "onnxruntime", "tensorflow": "tensorflow"}
#: What each engine expects its model file to be (the file kind, in error messages; not an export format name).
MODEL_KINDS = {"tflite": "a TFLite flatbuffer file", "onnx": "an ONNX model file",
               "tensorflow": "a TensorFlow SavedModel folder"}


class Engine:
    """Base of the engines: subclasses implement :meth:`run_one` (and may override :meth:`run`)."""

    name = None

    def run(self, images):
        """Raw outputs ``[B, ...]`` of pre-processed images ``float32 [B, H, W, 3]``."""
        images = np.asarray(images, dtype=np.float32)
        if len(images) == 1:
            return self.run_one(images)
        return np.concatenate([self.run_one(images[i:i + 1]) for i in range(len(images))], axis=0)

    def run_one(self, image):
        """Raw output ``[1, ...]`` of one pre-processed image ``[1, H, W, 3]``."""
        raise NotImplementedError


def _missing_engine(name, error):
    """The error raised when an engine's package is not installed."""
    return ConfigError(f"engine '{name}' needs the package {ENGINE_PACKAGES[name]} "
                       f"(pip install {ENGINE_PACKAGES[name]}): {error}")


def _short_reason(error):
    """The engine's message on one line, without ONNX Runtime's ``[ONNXRuntimeError] : 7 : … failed:`` lead-in."""
    message = " ".join(str(error).split())
    message = re.sub(r"^\[ONNXRuntimeError\][^:]*:\s*\d+\s*:\s*", "", message)
    message = message.rsplit(" failed:", 1)[-1].strip()
    return message if len(message) <= 200 else message[:200] + "…"


@contextlib.contextmanager
def loading_model(path, engine, errors):
    """Context in which ``engine`` loads ``path``: ``errors`` become one :class:`ExperimentError` naming the file.

    Args:
        path: the model file or folder.
        engine: the engine's name (a key of :data:`MODEL_KINDS`).
        errors: the exception types the engine's package raises for a file it cannot load.
    """
    try:
        yield
    except errors as error:
        raise ExperimentError(f"model {path} cannot be loaded by engine '{engine}' ({_short_reason(error)}): "
                              f"expected {MODEL_KINDS[engine]}; export the experiment again") from None


def quantize(values, detail):
    """Float values → the integer type of a quantized tensor (``round(x / scale) + zero_point``, clipped)."""
    scale, zero_point = detail["quantization"]
    info = np.iinfo(detail["dtype"])
    return np.clip(np.round(values / scale) + zero_point, info.min, info.max).astype(detail["dtype"])


def dequantize(values, detail):
    """A quantized tensor's integers → float32 ``(q - zero_point) * scale``."""
    scale, zero_point = detail["quantization"]
    return ((values.astype(np.float32) - np.float32(zero_point)) * np.float32(scale)).astype(np.float32)


def _is_quantized(detail):
    """Whether a TFLite tensor holds integers with a scale (int8/uint8/int16 quantization)."""
    return np.issubdtype(detail["dtype"], np.integer) and detail["quantization"][0] != 0


class TFLiteEngine(Engine):
    """A ``.tflite`` model on the ai-edge-litert interpreter; float32 or integer-quantized input and output.

    Args:
        path: the ``.tflite`` file.
        num_threads: interpreter threads (``None``: the interpreter's default).
    """

    name = "tflite"

    def __init__(self, path, num_threads=None):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as error:
            raise _missing_engine(self.name, error) from None
        with loading_model(path, self.name, (ValueError, RuntimeError)):
            self.interpreter = Interpreter(model_path=path, num_threads=num_threads)
            self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]

    def run_one(self, image):
        """Runs one image, quantizing the input and dequantizing the output when the model is integer."""
        if _is_quantized(self.input):
            image = quantize(image, self.input)
        self.interpreter.set_tensor(self.input["index"], image.astype(self.input["dtype"], copy=False))
        self.interpreter.invoke()
        output = self.interpreter.get_tensor(self.output["index"])
        return dequantize(output, self.output) if _is_quantized(self.output) else np.array(output)


def _onnxruntime_errors():
    """The exception types ONNX Runtime raises for a model file it cannot load."""
    from onnxruntime.capi import onnxruntime_pybind11_state as state
    names = ("Fail", "InvalidArgument", "NoSuchFile", "NoModel", "InvalidProtobuf", "InvalidGraph",
             "NotImplemented", "RuntimeException")
    return tuple(getattr(state, name) for name in names if hasattr(state, name))


class OnnxEngine(Engine):
    """A ``.onnx`` model on ONNX Runtime (CPU).

    Args:
        path: the ``.onnx`` file.
        num_threads: ``intra_op_num_threads`` of the session (``None``: ONNX Runtime's default).
    """

    name = "onnx"

    def __init__(self, path, num_threads=None):
        try:
            import onnxruntime
        except ImportError as error:
            raise _missing_engine(self.name, error) from None
        options = onnxruntime.SessionOptions()
        if num_threads:
            options.intra_op_num_threads = int(num_threads)
        with loading_model(path, self.name, _onnxruntime_errors()):
            self.session = onnxruntime.InferenceSession(path, sess_options=options,
                                                        providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def run_one(self, image):
        """Runs one image; returns the first output."""
        return self.session.run(None, {self.input_name: image})[0]


class TensorFlowEngine(Engine):
    """A SavedModel's ``serving_default`` signature (imports TensorFlow).

    Args:
        path: the ``saved_model`` folder.
        num_threads: unused (TensorFlow's thread pools are set process-wide with ``tf.config.threading``).
    """

    name = "tensorflow"

    def __init__(self, path, num_threads=None):
        try:
            import tensorflow as tf
        except ImportError as error:
            raise _missing_engine(self.name, error) from None
        self.tf = tf
        with loading_model(path, self.name, (OSError, ValueError, IndexError, tf.errors.OpError)):
            self.loaded = tf.saved_model.load(path)
        if "serving_default" not in self.loaded.signatures:
            raise ExperimentError(f"{path} has no serving_default signature")
        self.signature = self.loaded.signatures["serving_default"]
        _, inputs = self.signature.structured_input_signature
        self.input_name = next(iter(inputs))

    def run_one(self, image):
        """Runs one image; returns the output named ``output`` (or the only one)."""
        outputs = self.signature(**{self.input_name: self.tf.constant(image)})
        output = outputs["output"] if "output" in outputs else next(iter(outputs.values()))
        return output.numpy()


_ENGINES = {"tflite": TFLiteEngine, "onnx": OnnxEngine, "tensorflow": TensorFlowEngine}
ENGINES = tuple(_ENGINES)
#: Default model file of each engine inside an export folder: its :func:`~lmnet.runtime.layout.default_format`.
MODEL_FILES = {engine: default_format(engine).file for engine in ENGINES}


def resolve_model(engine=None, model=None, export_format=None):
    """``(engine, model file)`` from an engine and model, or from an export format name.

    Args:
        engine: ``"tflite"``, ``"onnx"`` or ``"tensorflow"`` (default :data:`DEFAULT_ENGINE`).
        model: a file name inside the export folder (default :data:`MODEL_FILES` of the engine).
        export_format: a name of :data:`~lmnet.runtime.layout.RUNTIME_FORMATS` (e.g. ``"tflite_int8"``):
            its file and the engine that reads it; excludes ``engine`` and ``model``.

    Raises:
        ConfigError: unknown engine or format, or a format together with an engine or a model.
    """
    if export_format is not None:
        if engine is not None or model is not None:
            raise ConfigError("--format picks the engine and the model file: give either --format or "
                              "--engine/--model, not both")
        chosen = get_format(export_format, "--format", RUNTIME_FORMATS)
        return chosen.engine, chosen.file
    engine = engine or DEFAULT_ENGINE
    if engine not in _ENGINES:
        raise ConfigError(f"unknown engine '{engine}'; choose one of {', '.join(ENGINES)}")
    return engine, model or MODEL_FILES[engine]


def _missing_model(path, engine, model):
    """The error for a model file that is not there (naming the export format it belongs to)."""
    names = [item.name for item in EXPORT_FORMATS if item.file == model]
    hint = f"; export it with executor/export.py (format '{names[0]}')" if names else ""
    return ExperimentError(f"model {path} not found for engine '{engine}'{hint}")


def create_engine(export_dir, engine=None, model=None, num_threads=None, export_format=None):
    """The engine ``engine`` on ``model`` (a file or folder name inside ``export_dir``, default per engine).

    Args:
        export_dir: the export folder.
        engine: ``"tflite"``, ``"onnx"`` or ``"tensorflow"`` (default :data:`DEFAULT_ENGINE`).
        model: e.g. ``"model_int8.tflite"``; default :data:`MODEL_FILES` of the engine. An absolute
            path is used as is.
        num_threads: threads of the TFLite interpreter or the ONNX Runtime session (``None``: default).
        export_format: instead of ``engine`` and ``model``, an export format name (``"tflite_int8"``):
            see :func:`resolve_model`.

    Raises:
        ConfigError: unknown engine or format, or its package is not installed.
        ExperimentError: the model file is missing, or the engine cannot load it (the message names it).
    """
    engine, model = resolve_model(engine, model, export_format)
    path = os.path.join(export_dir, model)
    if not os.path.exists(path):
        raise _missing_model(path, engine, model)
    return _ENGINES[engine](path, num_threads=num_threads)
