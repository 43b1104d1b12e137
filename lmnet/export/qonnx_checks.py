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


#: ONNX ops whose output holds only values of their inputs (moved, selected or zero-padded), so it keeps their
#: datatype; qonnx's datatype inference leaves some of them (``SpaceToDepth``) at FLOAT32.
VALUE_MOVING_OPS = frozenset(["SpaceToDepth", "DepthToSpace", "Concat", "Transpose", "Reshape", "Flatten", "MaxPool",
                              "Identity", "Pad"])


def inference_cost(path):
    """qonnx's cost model (``qonnx.util.inference_cost``) of a QONNX file: MACs, bit operations, weight bits.

    It runs qonnx's own preprocessing (shape and datatype inference, constant folding of the weight quantizers),
    then states two datatypes qonnx's inference cannot:

    * a ``BipolarQuant`` kernel with a per-channel scale is 1-bit values times one float per output channel;
      qonnx annotates any non-unit scale FLOAT32, which would count its weights as 32-bit;
    * the outputs of :data:`VALUE_MOVING_OPS` keep their input's datatype (a 2-bit tensor after
      ``SpaceToDepth`` is still 2-bit).

    Sparsity is not discounted (every weight counts, as lmnet's profile counts them).

    Returns:
        qonnx's ``total_cost`` dict (``total_macs``, ``total_bops``, ``total_mem_w_bits``, ``op_mac_<in>_<w>``,
        ``unsupported`` …).
    """
    from qonnx.core.datatype import DataType
    from qonnx.transformation.fold_constants import FoldConstants
    from qonnx.transformation.general import GiveUniqueParameterTensors, RemoveStaticGraphInputs, RemoveUnusedTensors
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.util.inference_cost import inference_cost as qonnx_inference_cost
    model = load(path)
    bipolar = [node.output[0] for node in model.graph.node
               if node.op_type == "BipolarQuant" and model.get_initializer(node.input[0]) is not None]
    for transformation in (InferShapes(), GiveUniqueParameterTensors(), InferDataTypes(allow_scaledint_dtypes=True),
                           FoldConstants(exclude_op_types=[]), RemoveUnusedTensors(), RemoveStaticGraphInputs(),
                           InferDataTypes(allow_scaledint_dtypes=True)):
        model = model.transform(transformation)
    for name in bipolar:
        model.set_tensor_datatype(name, DataType["BIPOLAR"])
    for node in model.graph.node:  # in topological order
        if node.op_type in VALUE_MOVING_OPS:
            dtypes = {model.get_tensor_datatype(name) for name in node.input if model.get_initializer(name) is None}
            if len(dtypes) == 1:
                model.set_tensor_datatype(node.output[0], dtypes.pop())
    return qonnx_inference_cost(model, preprocess=False, discount_sparsity=False)["total_cost"]
