"""File names inside an export folder ``saved/<id>/export/<checkpoint>/<H>x<W>/`` (ARCHITECTURE §7).

The exporter writes them and the runtime reads them; both take the names from here.

:data:`EXPORT_FORMATS` is the one table of the export formats: each has **one name**, used by the
exporter (``executor/export.py --formats``), ``parity.json``, the runtime (``python -m lmnet.runtime
--format``) and ``executor/measure_latency.py --engine``, and it names the file it is written to
and the runtime engine that reads it. Engines (``"tflite"``, ``"onnx"``, ``"tensorflow"``) are
the libraries that run a model file, not formats: one engine may read several formats (``tflite``
reads ``tflite_float`` and ``tflite_int8``), and its default model is the first format of the table
it reads (:func:`default_format`).

This module imports neither TensorFlow nor any engine package.
"""
import dataclasses

from lmnet.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class ExportFormat:
    """One export format: a model file of the export folder.

    Attributes:
        name: the one name of the format (``--formats``, ``parity.json``, ``--format``, latency's ``--engine``).
        file: its file (or folder) name inside the export folder (fixed by ARCHITECTURE §7).
        engine: the :mod:`lmnet.runtime.engines` engine that reads it; ``None`` when no runtime engine
            does (the frozen graph is for the hardware converter).
        description: one line saying what it is.
        default: written when no formats are named (``hls4ml`` is not: it needs a C++ compiler and minutes).
    """

    name: str
    file: str
    engine: str | None
    description: str
    default: bool = True


#: The export formats, in the order the exporter writes them and ``parity.json`` lists them.
EXPORT_FORMATS = (
    ExportFormat("pb", "minimal_graph_with_shape.pb", None,
                 "frozen TensorFlow GraphDef for the hardware converter"),
    ExportFormat("saved_model", "saved_model", "tensorflow",
                 "TensorFlow SavedModel folder, signature serving_default"),
    ExportFormat("tflite_float", "model_float.tflite", "tflite", "float32 TFLite model"),
    ExportFormat("tflite_int8", "model_int8.tflite", "tflite",
                 "full-integer (int8) TFLite model with float32 input and output"),
    ExportFormat("onnx", "model.onnx", "onnx", "ONNX model (opset 13)"),
    ExportFormat("qonnx", "model_qonnx.onnx", None,
                 "QONNX model (ONNX with Quant/BipolarQuant nodes, NCHW input) for FINN and hls4ml"),
    ExportFormat("hls4ml", "hls4ml_prj", None,
                 "hls4ml HLS C++ project of the QONNX model (io_stream), with its compiled C++ emulation",
                 default=False),
)
#: The formats by name.
FORMATS = {item.name: item for item in EXPORT_FORMATS}
#: Every format name, in table order.
FORMAT_NAMES = tuple(FORMATS)
#: The names of the formats a runtime engine reads (all but ``pb``), in table order.
RUNTIME_FORMATS = tuple(item.name for item in EXPORT_FORMATS if item.engine)

#: Frozen TensorFlow graph for the hardware converter.
GRAPH_FILE = FORMATS["pb"].file
#: TensorFlow SavedModel (signature ``serving_default``).
SAVED_MODEL = FORMATS["saved_model"].file
#: Float TFLite model.
TFLITE_FLOAT = FORMATS["tflite_float"].file
#: Full-integer (int8) TFLite model with float32 input and output.
TFLITE_INT8 = FORMATS["tflite_int8"].file
#: ONNX model.
ONNX_FILE = FORMATS["onnx"].file
#: QONNX model.
QONNX_FILE = FORMATS["qonnx"].file
#: hls4ml project folder.
HLS4ML_PROJECT = FORMATS["hls4ml"].file
#: The formats written when none are named.
DEFAULT_FORMATS = tuple(item for item in EXPORT_FORMATS if item.default)
#: The word that stands for :data:`DEFAULT_FORMATS` in a list of format names (``--formats default,hls4ml``).
DEFAULT_KEYWORD = "default"
#: The experiment's whole config.
CONFIG_FILE = "config.yaml"
#: Task, classes, input size and processors (what the runtime needs).
META_FILE = "meta.yaml"
#: Per-node outputs for debugging a converter (written with ``--images``).
INFERENCE_TEST_DATA = "inference_test_data"
#: Differences of every form against the Keras model.
PARITY_FILE = "parity.json"


def get_format(name, option="format", choices=FORMAT_NAMES):
    """The :class:`ExportFormat` named ``name``.

    Args:
        name: a format name of :data:`EXPORT_FORMATS`.
        option: what the error message calls the setting (e.g. ``"--formats"``).
        choices: the names allowed here.

    Raises:
        ConfigError: ``name`` is not one of ``choices`` (one line naming ``option`` and the valid names).
    """
    if name not in choices:
        raise ConfigError(f"{option}: unknown format '{name}'; choose from {', '.join(choices)}")
    return FORMATS[name]


def select_formats(names=None, option="--formats"):
    """The formats named in ``names``, in table order, each once.

    Args:
        names: a comma-separated string (``"pb,onnx"``), an iterable of names, or ``None`` for
            :data:`DEFAULT_FORMATS`; the name ``default`` stands for those (``"default,hls4ml"``).
        option: the option named in errors.

    Returns:
        A tuple of :class:`ExportFormat`.

    Raises:
        ConfigError: an unknown name, or no name at all.
    """
    if names is None:
        return DEFAULT_FORMATS
    if isinstance(names, str):
        names = names.split(",")
    wanted = set()
    for name in (name.strip() for name in names if name.strip()):
        if name == DEFAULT_KEYWORD:
            wanted.update(item.name for item in DEFAULT_FORMATS)
        else:
            wanted.add(get_format(name, option, (DEFAULT_KEYWORD, *FORMAT_NAMES)).name)
    if not wanted:
        raise ConfigError(f"{option}: no format given; choose from {', '.join((DEFAULT_KEYWORD, *FORMAT_NAMES))}")
    return tuple(item for item in EXPORT_FORMATS if item.name in wanted)


def default_format(engine):
    """The format an engine reads when no model is named: the first of the table that it reads.

    Raises:
        ConfigError: no format of the table is read by ``engine``.
    """
    for item in EXPORT_FORMATS:
        if item.engine == engine:
            return item
    raise ConfigError(f"no export format is read by engine '{engine}'")
