"""The QONNX model of a Keras model: ONNX with ``Quant`` / ``BipolarQuant`` nodes that keep the bit widths.

FINN and hls4ml read QONNX (ONNX plus the custom operators of the domain ``qonnx.custom_op.general``).
:func:`build_qonnx` walks the functional model's layers and writes each with its form's ``qonnx``
function (:mod:`lmnet.layers.qonnx_forms`), as the frozen-graph exporter does with ``graph``:

* the input ``images_placeholder`` is the pre-processed image in **NCHW**, float32 ``[1, 3, H, W]``, and
  every spatial tensor is NCHW (what qonnx's transformations and hls4ml's converter expect);
* a quantized kernel is its float OIHW initializer fed through the node its weight quantizer describes
  (:meth:`lmnet.quantizations.Quantizer.qonnx_form`): ``BipolarQuant`` with one scale per output channel
  (shape ``[O, 1, 1, 1]``) for the binary quantizers, ``Quant`` for ternary;
* an activation quantizer is one ``Quant`` node (``linear_mid_tread_half``: ``bit`` bits, unsigned, not
  narrow, zero point 0, scale ``max_value / (2**bit - 1)``, rounding ``ROUND``);
* float layers stay float; the output ``output`` is the network output in the Keras model's layout
  (a 4-D output is transposed back to NHWC).

Every tensor has its shape in ``value_info``. The model's metadata ``lmnet_layer_outputs`` maps each Keras
layer name to the tensor holding its output (:func:`layer_output_names`), for the per-layer report.
The opsets are ONNX 13 (first: qonnx reads the first import as the ONNX opset) and the qonnx domain 1.
"""
import dataclasses
import json
import warnings

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from lmnet.errors import LmnetError
from lmnet.export.graph import OUTPUT_NAME, PLACEHOLDER_NAME
from lmnet.layers.forms import form_of
from lmnet.layers.qonnx_forms import TO_CHANNELS_LAST
from lmnet.quantizations import get_quantizer

#: The domain of ``Quant`` and ``BipolarQuant``.
DOMAIN = "qonnx.custom_op.general"
ONNX_OPSET = 13
#: The ONNX IR version that opset 13 came with (older readers of the file accept it; onnx 1.23 would write 14).
IR_VERSION = 7
#: Metadata key of the ``{Keras layer name: tensor name}`` map.
LAYER_OUTPUTS_KEY = "lmnet_layer_outputs"


class OnnxValue:
    """A tensor of the model being written: its name and its shape in ONNX layout."""

    __slots__ = ("name", "shape")

    def __init__(self, name, shape):
        self.name, self.shape = name, tuple(int(size) for size in shape)

    def __repr__(self):
        return f"OnnxValue({self.name!r}, {self.shape})"


def onnx_shape(shape):
    """An NHWC Keras shape (batch ``None`` or 1) as the batch-1 ONNX shape: NCHW for 4-D, as is otherwise."""
    shape = (1, *(int(size) for size in shape[1:]))
    return (shape[0], shape[3], shape[1], shape[2]) if len(shape) == 4 else shape


def build_qonnx(model, image_size):
    """The QONNX ``ModelProto`` of ``model`` at batch 1 (see the module).

    Args:
        model: a functional Keras model with one image input (``network.model``).
        image_size: ``(height, width)`` of the input.

    Raises:
        LmnetError: the model holds a layer (or layer setting, or quantizer) QONNX cannot express here.
    """
    builder = _Builder({id(variable): variable.numpy() for variable in model.weights})
    image = OnnxValue(PLACEHOLDER_NAME, (1, 3, *image_size))
    outputs = model._run_through_graph([image], operation_fn=builder.operation)
    (output,) = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    if len(output.shape) == 4:
        shape = tuple(output.shape[axis] for axis in TO_CHANNELS_LAST)
        builder.add_node("Transpose", [output.name], OUTPUT_NAME, shape, OUTPUT_NAME, perm=list(TO_CHANNELS_LAST))
    else:
        builder.add_node("Identity", [output.name], OUTPUT_NAME, output.shape, OUTPUT_NAME)
    return builder.model(image)


def layer_output_names(proto):
    """``{Keras layer name: tensor name}`` of a model written by :func:`build_qonnx`."""
    return json.loads({prop.key: prop.value for prop in proto.metadata_props}[LAYER_OUTPUTS_KEY])


def save_qonnx(model, image_size, path):
    """Writes :func:`build_qonnx`'s model to ``path``."""
    onnx.save(build_qonnx(model, image_size), path)
    return path


class _Builder:
    """The QONNX context of :mod:`lmnet.layers.qonnx_forms`: collects nodes, initializers and shapes."""

    def __init__(self, values):
        self.values = values
        self.nodes, self.initializers, self.shapes = [], [], {}
        self.layer_outputs = {}
        self.scope = ""

    def operation(self, layer):
        """Returns ``f(*inputs) -> value`` writing ``layer`` with its form's ``qonnx`` function."""
        write = form_of(layer).qonnx
        if write is None:
            raise LmnetError(f"export: no QONNX form for layer {layer.name} ({type(layer).__name__})")

        def emit(*args, **kwargs):
            self.scope = layer.name
            output = write(self, layer, *args)
            self.layer_outputs[layer.name] = output.name
            return output
        return emit

    def _name(self, name):
        name = f"{self.scope}/{name}" if self.scope else name
        unique, count = name, 1
        while unique in self.shapes:
            count += 1
            unique = f"{name}_{count}"
        return unique

    def value(self, variable):
        """A model variable's value (float32, TensorFlow's layout)."""
        return np.asarray(self.values[id(variable)], np.float32)

    def output_shape(self, layer):
        """The layer's output shape in ONNX layout."""
        return onnx_shape(layer.output.shape)

    def initializer(self, array, name):
        """Adds a float32 initializer; returns its tensor name."""
        array = np.array(array, np.float32, order="C")  # keeps 0-d scalars 0-d (qonnx needs a 0-d bit width)
        name = self._name(name)
        self.initializers.append(numpy_helper.from_array(array, name))
        self.shapes[name] = None  # initializers carry their own shape
        return name

    def add_node(self, op_type, inputs, output, shape, name, domain="", **attributes):
        """Adds a node with one output named ``output`` of ``shape``; returns its value."""
        self.nodes.append(helper.make_node(op_type, list(inputs), [output], name=name, domain=domain or None,
                                           **attributes))
        self.shapes[output] = tuple(shape)
        return OnnxValue(output, shape)

    def node(self, op_type, inputs, shape, name, **attributes):
        """Adds one standard ONNX node (named ``<layer>/<name>``, its output too); returns its output value."""
        name = self._name(name)
        inputs = [value.name if isinstance(value, OnnxValue) else value for value in inputs]
        return self.add_node(op_type, inputs, name, shape, name, **attributes)

    def _quant_node(self, form, x_name, shape, name):
        """Adds the ``Quant`` / ``BipolarQuant`` node of a :class:`~lmnet.quantizations.QonnxForm`."""
        name = self._name(name)
        if form.op_type == "BipolarQuant":
            inputs = [x_name, self.initializer(form.scale, f"{name}_scale")]
            return self.add_node("BipolarQuant", inputs, name, shape, name, domain=DOMAIN)
        inputs = [x_name, self.initializer(form.scale, f"{name}_scale"),
                  self.initializer(np.float32(0), f"{name}_zeropt"),
                  self.initializer(np.float32(form.bits), f"{name}_bitwidth")]
        return self.add_node("Quant", inputs, name, shape, name, domain=DOMAIN, signed=int(form.signed),
                             narrow=int(form.narrow), rounding_mode=form.rounding_mode)

    def quantize(self, quantizer_name, x, kwargs):
        """``x`` through the activation quantizer's node (its scale a scalar)."""
        quantizer = get_quantizer(quantizer_name)
        form = self._form(quantizer, None, kwargs)
        if np.ndim(form.scale):
            raise LmnetError(f"export: layer {self.scope}: activation quantizer {quantizer.name} has a "
                             f"per-channel scale, which QONNX activations here do not take")
        return self._quant_node(form, x.name, x.shape, quantizer.name)

    def quantized_weight(self, quantizer_name, kernel, kwargs, permutation, name):
        """``kernel`` (TensorFlow's layout) through its weight quantizer's node, in ONNX's layout.

        Returns:
            The name of the quantized weight tensor.
        """
        quantizer = get_quantizer(quantizer_name)
        form = self._form(quantizer, kernel, kwargs)
        if form.note:
            message = f"QONNX export: layer {self.scope}: {form.note}"
            warnings.warn(message, stacklevel=2)
        source = kernel if form.value is None else np.asarray(form.value, np.float32)
        weight = np.transpose(source, permutation)
        scale = np.asarray(form.scale, np.float32)
        if scale.ndim:  # one per output channel: TensorFlow's last axis, wherever it lands
            shape = [1] * weight.ndim
            shape[permutation.index(kernel.ndim - 1)] = scale.size
            scale = scale.reshape(shape)
        form = dataclasses.replace(form, scale=scale)
        return self._quant_node(form, self.initializer(weight, name), weight.shape, quantizer.name).name

    def _form(self, quantizer, kernel, kwargs):
        values = quantizer.arguments(kwargs).values()
        try:
            return quantizer.qonnx_form(kernel, *values)
        except NotImplementedError as error:
            raise LmnetError(f"export: layer {self.scope}: {error}") from None

    def model(self, image):
        """The finished ``ModelProto`` with input ``image``."""
        value_info = [helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)
                      for name, shape in self.shapes.items() if shape is not None and name != OUTPUT_NAME]
        graph = helper.make_graph(
            self.nodes, "lmnet", [helper.make_tensor_value_info(image.name, TensorProto.FLOAT, image.shape)],
            [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, self.shapes[OUTPUT_NAME])],
            self.initializers, value_info=value_info)
        proto = helper.make_model(graph, producer_name="lmnet", opset_imports=[
            helper.make_opsetid("", ONNX_OPSET), helper.make_opsetid(DOMAIN, 1)])
        proto.ir_version = IR_VERSION
        helper.set_model_props(proto, {LAYER_OUTPUTS_KEY: json.dumps(self.layer_outputs)})
        return proto
