"""hls4ml's HLS project of a QONNX export and its compiled C++ emulation (the ``hls4ml`` export format).

:func:`build_project` prepares the QONNX model (:mod:`lmnet.export.hls4ml_graph`), converts it with hls4ml 1.3.0
(backend ``Vitis``, ``io_stream``) into an HLS C++ project, and compiles the project's bit-accurate emulation with
the machine's ``g++`` (``hls4ml``'s ``compile()``; no vendor tool is involved). Synthesis (``vitis_hls``) is the
user's next step and was not run here.

Choices, each measured on LmnetV1Quantize and LMFYoloQuantize (notes in docs/export.rst):

* **fixed-point types are given per layer type** (:data:`LAYER_PRECISIONS`). hls4ml infers the types of layers
  with integer weights, but a binary weight with a per-channel scale stops its inference and the layer falls back
  to the default type, where the sums overflow (hls4ml's own defaults agree with lmnet on 1 of 4 images). After
  :func:`~lmnet.export.hls4ml_graph.integer_activations` a convolution sums integer codes times ±1, which the
  accumulator below holds exactly.
* **io_stream** with the ``Resource`` strategy for convolutions: ``io_parallel`` unrolls every layer into one
  40 MB header that g++ did not compile in 30 minutes here, and the ``Latency`` strategy keeps a
  whole-layer accumulator array on the stack (LMFYolo's is 19 MB: the emulation crashes).
* **softmax tables of 65,536 entries**, indexed by the logits' type ``fixed<24,6>``: smaller tables round the
  probabilities by up to 6e-3 (1,024) or 1.2e-3 (4,096).
* **trace on**: every layer writes its output for :meth:`Hls4mlProject.layer_outputs`; the trace code is inside
  ``#ifndef __SYNTHESIS__`` and does not reach the hardware.
"""
import contextlib
import dataclasses
import io
import os
import shutil
import warnings

import numpy as np

from lmnet.errors import ConfigError
from lmnet.export import hls4ml_graph

#: hls4ml backend and I/O type of the project.
BACKEND = "Vitis"
IO_TYPE = "io_stream"
#: The prepared QONNX model inside the project folder (what hls4ml converted).
PREPARED_FILE = "model_qonnx_prepared.onnx"
#: What hls4ml printed (conversion, compilation, tracing), inside the project folder.
LOG_FILE = "lmnet_hls4ml.log"
#: hls4ml's default type, for layers with no entry below.
DEFAULT_PRECISION = "fixed<32,12>"
#: ``{ONNX op type: {precision key: fixed-point type}}`` (``fixed<total bits, integer bits>``).
LAYER_PRECISIONS = {
    "Input": {"result": "fixed<24,4>"},  # pre-processed images, within [-8, 8)
    "Conv": {"accum": "fixed<48,20>", "result": "fixed<40,20>", "weight": "fixed<32,4>", "bias": "fixed<32,8>"},
    "BatchNormalization": {"scale": "fixed<40,8>", "bias": "fixed<40,16>"},  # also carries the weight scales
    "Relu": {"result": "fixed<32,12>"},
    "LeakyRelu": {"result": "fixed<32,12>", "param": "fixed<32,4>"},
    "MatMul": {"accum": "fixed<40,20>", "result": "fixed<24,6>", "weight": "fixed<24,4>", "bias": "fixed<24,4>"},
    "Softmax": {"result": "fixed<32,12>"},
}
#: Softmax table size (entries of the exp and the inverse table).
SOFTMAX_TABLE_SIZE = 65536


def check_toolchain():
    """Raises :class:`ConfigError` (naming what is missing) unless hls4ml imports and ``g++`` is on ``PATH``."""
    try:
        import hls4ml  # noqa: F401
    except ImportError as error:
        raise ConfigError(f"the hls4ml export needs the hls4ml package (pinned in requirements.txt): {error}")
    if shutil.which("g++") is None:
        raise ConfigError("the hls4ml export compiles its C++ emulation with g++, which is not on PATH "
                          "(install a C++ compiler, e.g. apt install g++)")


def hls_config(model, trace=True):
    """hls4ml's per-layer configuration of the prepared ``model``, with :data:`LAYER_PRECISIONS`."""
    import hls4ml
    config = hls4ml.utils.config.config_from_onnx_model(model, granularity="name", backend=BACKEND,
                                                        default_precision=DEFAULT_PRECISION)
    op_types = {node.name: node.op_type for node in model.graph.node}
    op_types[model.graph.input[0].name] = "Input"
    classes = int(model.get_tensor_shape(model.graph.output[0].name)[-1])
    for name, layer in config["LayerName"].items():
        op_type = op_types.get(name)
        layer.setdefault("Precision", {}).update(LAYER_PRECISIONS.get(op_type, {}))
        layer["Trace"] = trace
        if op_type == "Conv":
            layer["Strategy"] = "Resource"
        if op_type == "Softmax":
            _softmax_tables(layer, classes)
    return config


def _softmax_tables(layer, classes):
    """hls4ml reads the table types from layer keys ending in ``_t`` (model/layers.py:113-127), not from
    ``Precision``; the inverse table's input is the sum of exponentials, within ``[1, classes]``."""
    integer_bits = int(np.ceil(np.log2(classes + 1)))
    layer.update(exp_table_t="fixed<32,12,RND,SAT>", inv_table_t="fixed<32,12,RND,SAT>",
                 inv_inp_t=f"ufixed<24,{integer_bits},RND,SAT>", accum_t="fixed<32,12,RND,SAT>",
                 TableSize=SOFTMAX_TABLE_SIZE)


@dataclasses.dataclass
class Hls4mlProject:
    """A converted and compiled hls4ml project.

    Attributes:
        directory: the project folder.
        hls_model: hls4ml's ``ModelGraph`` (compiled: ``predict`` and ``trace`` run the C++ emulation).
        prepared: the prepared QONNX ``ModelWrapper`` hls4ml converted.
        activations: ``{prepared activation Quant output: (Keras layer name, level spacing)}``.
        output_shape: the Keras model's output shape without the batch dimension.
        output_layer: the Keras model's last layer.
    """

    directory: str
    hls_model: object
    prepared: object
    activations: dict
    output_shape: tuple
    output_layer: str

    def run(self, image):
        """The emulation's output for one NHWC image ``[1, H, W, 3]``, in the Keras layout ``[1, ...]``."""
        output = self.hls_model.predict(np.ascontiguousarray(image, np.float32))
        return np.asarray(output, np.float32).reshape((1, *self.output_shape))

    def layer_outputs(self, images):
        """``{Keras layer: outputs [N, ...] (NHWC)}`` of the quantized activations and the output layer, from
        hls4ml's trace (it recompiles the emulation with the trace switched on; hls4ml's log is appended to
        :data:`LOG_FILE`).

        A layer that feeds an activation ``Quant`` holds its integer codes (hls4ml folds the quantizer into the
        layer's output type); times the level spacing they are the Keras layer's values.
        """
        with _logged_to(self.directory):
            output, traced = self.hls_model.trace(np.ascontiguousarray(images, np.float32))
        found = {self.output_layer: np.asarray(output, np.float32).reshape((len(images), *self.output_shape))}
        for layer in self.hls_model.get_layers():
            tensor = _activation_fed_by(self.prepared, layer.outputs[0], self.activations)
            if tensor is None or layer.name not in traced:
                continue
            keras_name, spacing = self.activations[tensor]
            found[keras_name] = np.asarray(traced[layer.name], np.float32) * np.float32(spacing)
        return found


@contextlib.contextmanager
def _logged_to(directory):
    """hls4ml's printed lines and warnings go to ``<directory>/``:data:`LOG_FILE` instead of the console."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            with open(os.path.join(directory, LOG_FILE), "a", encoding="utf-8") as stream:
                stream.write(buffer.getvalue())
                stream.writelines(f"warning: {item.message}\n" for item in caught)


def _activation_fed_by(model, tensor, activations):
    if tensor in activations:
        return tensor
    consumers = model.find_consumers(tensor) or []
    if len(consumers) == 1 and consumers[0].output[0] in activations:
        return consumers[0].output[0]
    return None


def activation_map(original, prepared):
    """``{prepared activation Quant output: (Keras layer, level spacing)}``; the layers are read from the labels
    :func:`~lmnet.export.hls4ml_graph.prepare_for_hls4ml` leaves, the spacings from the export (``original``)."""
    from lmnet.export.qonnx import layer_output_names
    spacing = {}
    for layer, tensor in layer_output_names(original.model).items():
        producer = original.find_producer(tensor)
        if producer is not None and producer.op_type == "Quant":
            spacing[layer] = float(np.ravel(original.get_initializer(producer.input[1]))[0])
    found = {}
    for node in hls4ml_graph.activation_quants(prepared):
        layer = hls4ml_graph.layer_of(node)
        if layer in spacing:
            found[node.output[0]] = (layer, spacing[layer])
    return found


def build_project(qonnx_path, directory, output_shape, output_layer, trace=True, log=None):
    """Prepares, converts and compiles the QONNX file at ``qonnx_path`` into the project folder ``directory``.

    The folder is replaced (it holds only what hls4ml writes and :data:`PREPARED_FILE`).

    Args:
        qonnx_path: an lmnet QONNX export (``model_qonnx.onnx``).
        directory: the project folder to (re)create.
        output_shape: the Keras model's output shape without the batch dimension.
        output_layer: the Keras model's last layer (its name in :meth:`Hls4mlProject.layer_outputs`).
        trace: build the per-layer trace into the emulation.
        log: receives progress lines (optional).

    Returns:
        A :class:`Hls4mlProject`.

    Raises:
        ConfigError: hls4ml or g++ is missing.
        Hls4mlGraphError: a pattern the preparation cannot rewrite.
    """
    import hls4ml
    from qonnx.core.modelwrapper import ModelWrapper
    check_toolchain()
    original = ModelWrapper(qonnx_path)
    prepared = hls4ml_graph.prepare_for_hls4ml(ModelWrapper(qonnx_path))
    if os.path.isdir(directory):
        shutil.rmtree(directory)
    os.makedirs(directory)
    prepared.save(os.path.join(directory, PREPARED_FILE))
    with _logged_to(directory):
        hls_model = hls4ml.converters.convert_from_onnx_model(prepared, output_dir=directory, backend=BACKEND,
                                                              io_type=IO_TYPE, hls_config=hls_config(prepared, trace))
    if log:
        log(f"  hls4ml: {len(hls_model.get_layers())} layers converted; compiling the C++ emulation with g++")
    with _logged_to(directory):
        hls_model.compile()
    return Hls4mlProject(directory, hls_model, prepared, activation_map(original, prepared), tuple(output_shape),
                         output_layer)
