"""Running a QONNX model with the tools that consume it: qonnx's executor, transformations and cost model.

qonnx's executor (``qonnx.core.onnx_exec.execute_onnx``) is a reference implementation: it runs each
standard node in its own onnxruntime session and the quantizers in NumPy. It is the judge of what a
QONNX model computes, not a fast engine.
"""
import numpy as np

from lmnet.export.graph import OUTPUT_NAME, PLACEHOLDER_NAME
from lmnet.export.qonnx import layer_output_names
from lmnet.layers.qonnx_forms import TO_CHANNELS_LAST


def _quiet_onnxruntime():
    """onnxruntime warns on every one-node session qonnx builds (legacy opsets of wrapped ops); keep errors."""
    import onnxruntime
    onnxruntime.set_default_logger_severity(3)


def load(path):
    """A ``qonnx.core.modelwrapper.ModelWrapper`` of the file at ``path``."""
    from qonnx.core.modelwrapper import ModelWrapper
    return ModelWrapper(path)


def _feed(image):
    """The QONNX input (NCHW) of a pre-processed NHWC image ``[1, H, W, 3]``."""
    return {PLACEHOLDER_NAME: np.ascontiguousarray(np.asarray(image, np.float32).transpose(0, 3, 1, 2))}


def qonnx_runner(path):
    """``f(image NHWC [1, H, W, 3]) -> output`` of a QONNX file, run by qonnx's executor."""
    from qonnx.core.onnx_exec import execute_onnx
    _quiet_onnxruntime()
    model = load(path)

    def run(image):
        return execute_onnx(model, _feed(image))[OUTPUT_NAME]
    return run


def layer_outputs(path, image):
    """Every Keras layer's output in the QONNX model for one image, in the Keras layout (NHWC).

    Args:
        path: a QONNX file written by :func:`lmnet.export.qonnx.save_qonnx`.
        image: float32 NHWC ``[1, H, W, 3]``.

    Returns:
        ``{Keras layer name: np.ndarray}``.
    """
    from qonnx.core.onnx_exec import execute_onnx
    _quiet_onnxruntime()
    model = load(path)
    context = execute_onnx(model, _feed(image), return_full_exec_context=True)
    return {layer: _channels_last(context[tensor]) for layer, tensor in layer_output_names(model.model).items()}


def _channels_last(array):
    return array.transpose(TO_CHANNELS_LAST) if array.ndim == 4 else array
