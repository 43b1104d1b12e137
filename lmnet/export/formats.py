"""The other export forms: SavedModel, float and int8 TFLite, ONNX, and a runner for each.

Every form takes the pre-processed image float32 ``[1, H, W, 3]`` and returns the raw network
output (``network.model``'s output). Input and output names:

* SavedModel: signature ``serving_default``, input ``images_placeholder``, output ``output``;
* TFLite (float and int8): one float32 input and one float32 output tensor;
* ONNX: input ``images_placeholder``, output ``output``.
"""
import ctypes
import gc
import os
import warnings

import keras
import numpy as np
import onnx
import tensorflow as tf

from lmnet.export.graph import OUTPUT_NAME, PLACEHOLDER_NAME
from lmnet.layers.forms import form_of

ONNX_OPSET = 13


def _input_spec(image_size):
    return tf.TensorSpec([1, *image_size, 3], tf.float32, name=PLACEHOLDER_NAME)


def serving_function(model, image_size):
    """A ``tf.function`` ``images_placeholder -> {"output": raw output}`` at batch 1 (inference mode).

    A model whose output is a dict (``{name: tensor}``, as the per-layer parity probes) is served as that dict.
    """
    @tf.function(input_signature=[_input_spec(image_size)])
    def serve(images_placeholder):
        outputs = model(images_placeholder, training=False)
        return dict(outputs) if isinstance(outputs, dict) else {OUTPUT_NAME: outputs}
    return serve


def save_saved_model(model, image_size, path):
    """Writes a SavedModel with signature ``serving_default`` (input ``images_placeholder``, output ``output``)."""
    module = tf.Module()
    module.model = model
    module.serve = serving_function(model, image_size)
    tf.saved_model.save(module, path, signatures={"serving_default": module.serve})
    return path


def saved_model_runner(path):
    """Loads a SavedModel written by :func:`save_saved_model`; returns ``f(image) -> output``."""
    signature = tf.saved_model.load(path).signatures["serving_default"]

    def run(image):
        return signature(**{PLACEHOLDER_NAME: tf.constant(image, tf.float32)})[OUTPUT_NAME].numpy()
    return run


def _twin(model, twin_layer):
    """A clone of ``model`` made of ``twin_layer(layer)`` with each layer's folded weights."""
    twin = keras.models.clone_model(model, clone_function=twin_layer)
    for layer in model.layers:
        twin.get_layer(layer.name).set_weights(form_of(layer).folded_weights(layer))
    return twin


def folded_model(model):
    """A twin of ``model`` with constant weight quantization folded in: each quantized kernel is stored as its
    quantized values, and the weight quantizers are gone (:mod:`lmnet.layers.forms`). Same outputs;
    the float exports (ONNX) then hold no quantizer ops for constants."""
    return _twin(model, lambda layer: form_of(layer).folded_layer(layer))


def baked_model(model):
    """A twin of ``model`` for int8 TFLite: :func:`folded_model` with each activation quantizer in its
    integer-friendly form (:class:`~lmnet.layers.quantized.IntegerFormActivation`, same values).

    TFLite's int8 quantizer cannot prepare a convolution whose kernel is computed by quantizer ops.
    """
    return _twin(model, lambda layer: form_of(layer).integer_twin(layer))


def _convert(model, image_size, configure=None):
    """Converts ``model`` at batch 1 to TFLite from its frozen serving function (variables as constants).

    ``configure(converter)`` may set quantization options first.
    """
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2
    frozen = convert_variables_to_constants_v2(serving_function(model, image_size).get_concrete_function())
    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen], model)
    if configure is not None:
        configure(converter)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
        return converter.convert()


def tflite_float(model, image_size):
    """The float TFLite flatbuffer (bytes) of ``model`` at batch 1."""
    return _convert(model, image_size)


def tflite_int8(model, image_size, calibration_images):
    """The full-integer int8 TFLite flatbuffer of ``model``, float32 input and output kept.

    Args:
        model: the Keras model (its weight quantizers are baked in first, :func:`baked_model`).
        image_size: ``(height, width)``.
        calibration_images: float32 ``[N, H, W, 3]`` pre-processed images.
    """
    def representative():
        for image in calibration_images:
            yield [np.asarray(image[None], np.float32)]

    def configure(converter):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
        converter.inference_input_type = tf.float32
        converter.inference_output_type = tf.float32
    return _convert(baked_model(model), image_size, configure)


def tflite_runner(path):
    """Loads a TFLite file; returns ``f(image) -> output``."""
    from ai_edge_litert.interpreter import Interpreter
    interpreter = Interpreter(model_path=path)
    interpreter.allocate_tensors()
    input_index = interpreter.get_input_details()[0]["index"]
    output_index = interpreter.get_output_details()[0]["index"]

    def run(image):
        interpreter.set_tensor(input_index, np.asarray(image, np.float32))
        interpreter.invoke()
        return interpreter.get_tensor(output_index).copy()
    return run


def tflite_op_types(path):
    """Sorted builtin op names used by a TFLite file."""
    from ai_edge_litert.interpreter import Interpreter
    interpreter = Interpreter(model_path=path)
    return sorted({detail["op_name"] for detail in interpreter._get_ops_details()})


def tflite_float_ops(path):
    """Sorted op names of a TFLite file that compute in float32 (``QUANTIZE``/``DEQUANTIZE`` left out).

    Empty for a fully integer model; the int8 export lists the ops with no integer kernel (``ROUND``
    of the activation quantizers), which run between a dequantize and a quantize.
    """
    from ai_edge_litert.interpreter import Interpreter
    interpreter = Interpreter(model_path=path)
    dtypes = {detail["index"]: detail["dtype"] for detail in interpreter.get_tensor_details()}
    names = set()
    for op in interpreter._get_ops_details():
        if op["op_name"] in ("QUANTIZE", "DEQUANTIZE"):
            continue
        if any(dtypes.get(index) == np.float32 for index in list(op["inputs"]) + list(op["outputs"])):
            names.add(op["op_name"])
    return sorted(names)


def save_onnx(model, image_size, path):
    """Converts ``model`` with tf2onnx (opset 13) to ``path``; input ``images_placeholder``, output ``output``.

    The model is converted :func:`folded <folded_model>`, so a quantized kernel is one constant whatever
    tf2onnx's own constant folding does (for the shipped networks it already folded them: same graph).
    The conversion itself needs about 60 times the weights' size in memory; :func:`_release_memory` hands
    it back afterwards.
    """
    import tf2onnx
    try:
        return _convert_onnx(tf2onnx, folded_model(model), image_size, path)
    finally:
        _release_memory()


def _release_memory():
    """Frees what a conversion left in reference cycles and hands the freed heap back to the system.

    tf2onnx holds copies of every constant while it converts (about 11 GB for YoloV2's 200 MB of weights);
    without this a process that exports several models keeps that memory.
    """
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def _convert_onnx(tf2onnx, model, image_size, path):
    """The tf2onnx conversion of :func:`save_onnx`."""
    function = serving_function(model, image_size)
    proto, _ = tf2onnx.convert.from_function(function, input_signature=[_input_spec(image_size)],
                                             opset=ONNX_OPSET)
    if len(proto.graph.output) == 1:
        _rename_onnx_output(proto, OUTPUT_NAME)
    onnx.save(proto, path)
    return path


def _rename_onnx_output(proto, name):
    """Renames the graph's single output (and the node output producing it) to ``name``."""
    old = proto.graph.output[0].name
    if old == name:
        return
    for node in proto.graph.node:
        node.output[:] = [name if value == old else value for value in node.output]
        node.input[:] = [name if value == old else value for value in node.input]
    proto.graph.output[0].name = name


def onnx_runner(path):
    """Loads an ONNX file in onnxruntime; returns ``f(image) -> output``."""
    import onnxruntime
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = min(2, os.cpu_count() or 1)
    session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name

    def run(image):
        return session.run(None, {input_name: np.asarray(image, np.float32)})[0]
    return run
