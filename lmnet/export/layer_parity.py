"""Layer-by-layer parity: each export form's intermediate outputs against the Keras model's.

Each form is traced to ``{layer name: outputs [N, ...]}`` in the Keras layout (NHWC):

* ``pb``: every layer, at the node the frozen-graph exporter wrote last for it (it records them);
* ``qonnx``: every layer, from the model's own layer map (``lmnet_layer_outputs``), run by qonnx's executor;
* ``tflite_float``, ``tflite_int8``, ``onnx``: the *checkpoint* layers (:func:`checkpoint_layers`: every
  activation, quantized or not, and the last layer), from a probe: the same model with those layers as
  extra named outputs (:func:`probe_model`), converted by the form's own converter. Converters fuse layers
  (a batch norm into its convolution), so a probe cannot show every layer, and its extra outputs keep those
  tensors from being fused away; between checkpoints it computes as the exported file does;
* ``hls4ml``: every quantized activation (its integer codes times the level spacing), from hls4ml's own trace
  of the compiled C++ emulation (:meth:`lmnet.export.hls4ml_project.Hls4mlProject.layer_outputs`), and the
  output; its fixed-point softmax differs from float by about 1e-4;
* ``saved_model``: its final output only (it runs the Keras layers themselves).

:func:`compare_layers` measures per layer the max absolute difference and, for quantized activations, the
fraction of values on another level; :func:`first_over_tolerance` names the first layer (in model order)
past the form's :data:`TOLERANCES`.
"""
import dataclasses
import os
import re

import keras
import numpy as np

from lmnet.layers.quantized import QuantizedActivation
from lmnet.quantizations import get_quantizer


@dataclasses.dataclass(frozen=True)
class Tolerance:
    """What a form may differ from the Keras model, per layer.

    Attributes:
        relative: max ``|form - keras|`` allowed, times ``max(1, max |keras|)`` of that layer.
        levels: max fraction of a quantized activation's values on another level.
    """

    relative: float
    levels: float


#: Tolerances of the forms compared layer by layer. Float forms recompute the same float math, so they differ by
#: rounding only; a level flip there (a value within rounding of a level boundary) is rare. The int8 model
#: quantizes every tensor to 8 bits, so only its task metric has a limit (``parity.INT8_MAX_DROP``).
TOLERANCES = {
    "pb": Tolerance(1e-4, 1e-3),
    "saved_model": Tolerance(1e-4, 1e-3),
    "tflite_float": Tolerance(1e-3, 1e-3),
    "onnx": Tolerance(1e-3, 1e-3),
    "qonnx": Tolerance(1e-4, 1e-3),
    "hls4ml": Tolerance(1e-3, 1e-3),
}


def keras_layer_outputs(model, images):
    """``{layer name: outputs [N, ...]}`` of every layer of ``model`` (inference mode) but the input."""
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs  # called with one array below
    probe = keras.Model(inputs, [layer.output for layer in layers])
    results = {layer.name: [] for layer in layers}
    for image in images:
        outputs = probe(np.asarray(image[None], np.float32), training=False)
        for layer, output in zip(layers, outputs if isinstance(outputs, (list, tuple)) else [outputs]):
            results[layer.name].append(np.asarray(output))
    return {name: np.concatenate(values) for name, values in results.items()}


def level_scale(layer):
    """The level spacing of a quantized activation layer's quantizer, or ``None`` for other layers."""
    if not isinstance(layer, QuantizedActivation):
        return None
    name, arguments = layer.exported()
    quantizer = get_quantizer(name)
    try:
        form = quantizer.qonnx_form(None, *quantizer.arguments(arguments).values())
    except NotImplementedError:
        return None
    return float(form.scale) if np.ndim(form.scale) == 0 else None


def compare_layers(model, reference, traced):
    """Per-layer differences of one form, in model order.

    Args:
        model: the Keras model.
        reference: :func:`keras_layer_outputs`.
        traced: ``{layer name: outputs}`` the form kept.

    Returns:
        A list of ``{"layer", "max_abs_diff", "scale", "level_mismatch"}`` (``scale`` = ``max(1, max |keras|)``;
        ``level_mismatch`` ``None`` for layers that are not quantized activations).
    """
    records = []
    for layer in model.layers:
        if layer.name not in traced or layer.name not in reference:
            continue
        expected, got = reference[layer.name], traced[layer.name]
        if got.shape != expected.shape:
            continue
        step = level_scale(layer)
        mismatch = None if step is None else float(np.mean(np.round(got / step) != np.round(expected / step)))
        records.append({"layer": layer.name, "max_abs_diff": float(np.max(np.abs(got - expected))),
                        "scale": max(1.0, float(np.max(np.abs(expected)))), "level_mismatch": mismatch})
    return records


def first_over_tolerance(records, tolerance):
    """The first record past ``tolerance`` (a :class:`Tolerance`), or ``None``."""
    for record in records:
        if record["max_abs_diff"] > tolerance.relative * record["scale"]:
            return record
        if record["level_mismatch"] is not None and record["level_mismatch"] > tolerance.levels:
            return record
    return None


def layer_report(model, reference, traced, form):
    """The per-layer part of ``parity.json`` for one form.

    Returns:
        A dict: ``layers`` (:func:`compare_layers`), ``tolerance`` (``{"relative", "levels"}`` or ``None``)
        and ``first_over_tolerance`` (a record or ``None``).
    """
    records = compare_layers(model, reference, traced)
    tolerance = TOLERANCES.get(form)
    first = first_over_tolerance(records, tolerance) if tolerance else None
    return {"layers": records, "tolerance": dataclasses.asdict(tolerance) if tolerance else None,
            "first_over_tolerance": first}


# ---------------------------------------------------------------- tracers, one per form

def trace_pb(graph_def, layer_nodes, images):
    """Per-layer outputs of the frozen graph: ``layer_nodes`` maps layer names to node names."""
    from lmnet.export.graph import run_graph_def
    present = {node.name for node in graph_def.node}
    nodes = {layer: node for layer, node in layer_nodes.items() if node in present}
    runs = [run_graph_def(graph_def, image[None], tuple(nodes.values())) for image in images]
    return {layer: np.concatenate([run[node] for run in runs]) for layer, node in nodes.items()}


def trace_qonnx(path, images):
    """Per-layer outputs of the QONNX model, run by qonnx's executor."""
    from lmnet.export import qonnx_checks
    runs = [qonnx_checks.layer_outputs(path, image[None]) for image in images]
    return {layer: np.concatenate([run[layer] for run in runs]) for layer in runs[0]} if runs else {}


def checkpoint_layers(model):
    """The layers a probe exposes: every activation (quantized or not) and the model's last layer."""
    from lmnet.layers.forms import elementwise_cost, form_of
    names = [layer.name for layer in model.layers if form_of(layer).cost is elementwise_cost]
    last = model.layers[-1].name
    return names + ([last] if last not in names else [])


def probe_model(model, layer_names):
    """``model`` with ``{layer name: output}`` of ``layer_names`` as its (dict) output, sharing its layers."""
    return keras.Model(model.inputs, {name: model.get_layer(name).output for name in layer_names})


def _layer_of_output(key, names):
    """The layer a probe output stands for: its key names it, or ends with its position in sorted-name order
    (``Identity_5``, ``output_5``: the converter flattens the serving dict in sorted-key order)."""
    if key in names:
        return key
    match = re.search(r"[_:](\d+)$", key)
    return names[int(match.group(1)) if match else 0]


def _tflite_probe_runner(interpreter, names):
    """``f(image) -> {layer: output}`` of a probe's interpreter: through its signature when it has one (int8
    files list their outputs as ``PartitionedCall:<k>`` in yet another order), else by output tensor names."""
    signatures = interpreter.get_signature_list()
    if signatures:
        key = next(iter(signatures))
        runner = interpreter.get_signature_runner(key)
        input_name = signatures[key]["inputs"][0]
        return lambda image: {_layer_of_output(out, names): value.copy()
                              for out, value in runner(**{input_name: image}).items()}
    interpreter.allocate_tensors()
    input_index = interpreter.get_input_details()[0]["index"]
    outputs = {_layer_of_output(detail["name"], names): detail["index"]
               for detail in interpreter.get_output_details()}

    def run(image):
        interpreter.set_tensor(input_index, image)
        interpreter.invoke()
        return {name: interpreter.get_tensor(index).copy() for name, index in outputs.items()}
    return run


def trace_tflite(path, images, layer_names):
    """Per-layer outputs of a probe's TFLite file."""
    from ai_edge_litert.interpreter import Interpreter
    names = sorted(layer_names)
    run = _tflite_probe_runner(Interpreter(model_path=path), names)
    runs = [run(np.asarray(image[None], np.float32)) for image in images]
    if set(runs[0]) != set(names):
        raise ValueError(f"{path}: its outputs do not map one to one onto the probed layers")
    return {name: np.concatenate([outputs[name] for outputs in runs]) for name in names}


def trace_onnx(path, images, layer_names):
    """Per-layer outputs of a probe's ONNX file (its outputs are named after the layers)."""
    import onnxruntime
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = min(2, os.cpu_count() or 1)
    session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    names = [name for name in layer_names if name in {output.name for output in session.get_outputs()}]
    runs = [session.run(names, {input_name: np.asarray(image[None], np.float32)}) for image in images]
    return {name: np.concatenate([run[index] for run in runs]) for index, name in enumerate(names)}
