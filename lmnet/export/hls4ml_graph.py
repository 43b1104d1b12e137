"""The QONNX model prepared for hls4ml's ONNX front end (hls4ml 1.3.0): qonnx's documented steps, then rewrites.

hls4ml reads a QONNX model after ``qonnx.util.cleanup.cleanup_model`` and ``ConvertToChannelsLastAndClean``
(its docs/frontend/qonnx.rst). An lmnet export needs seven more graph rewrites before hls4ml converts it and
computes the same numbers; each exists because of one hls4ml limit, named in its docstring (file and line of
hls4ml 1.3.0). Every rewrite is exact: it moves values or rescales by the same factor on both sides, and the
prepared model computes, under qonnx's executor, the same activation codes as the exported model
(tests/test_export_hls4ml.py).

:func:`prepare_for_hls4ml` runs all steps in order:

1. ``cleanup_model``; ``ConvertToChannelsLastAndClean(make_input_channels_last=True)`` (the input becomes NHWC,
   as lmnet's pre-processed images are); ``GemmToMatMul``; ``cleanup_model`` again;
2. :func:`split_concats`: NCHW ``Concat`` (axis 1) of any number of inputs → a chain of two-input NHWC ``Concat``;
3. :func:`space_to_depth_as_reshapes`: ``SpaceToDepth`` → ``Reshape`` → 5-D ``Transpose`` → ``Reshape``;
4. :func:`global_average_pool_as_matmul`: ``GlobalAveragePool`` + ``Flatten`` → ``Flatten`` + ``MatMul``;
5. :func:`integer_activations`: activation ``Quant`` scale ``s`` → 1, ``s`` moved into the batch norm before and
   the weight quantizers after;
6. :func:`drop_output_identity` and :func:`cancel_transpose_pairs`; ``cleanup_model``;
7. :func:`name_reshape_outputs`: each ``Reshape``'s output tensor takes the node's name.

Before the steps, each node producing a Keras layer's output is labelled with the layer's name
(:func:`label_layer_outputs`); the label survives qonnx's renaming, and is how the per-layer report maps hls4ml's
layers back to Keras layers.
"""
import numpy as np
from onnx import helper

from lmnet.errors import LmnetError
from lmnet.export.qonnx_checks import VALUE_MOVING_OPS


class Hls4mlGraphError(LmnetError):
    """The QONNX model holds a pattern the hls4ml preparation cannot rewrite (the message names the node)."""


NCHW_TO_NHWC = [0, 2, 3, 1]
#: The prefix of the Keras layer name in a labelled node's ``doc_string``.
LAYER_LABEL = "lmnet layer: "
NHWC_TO_NCHW = [0, 3, 1, 2]


def prepare_for_hls4ml(model):
    """The model hls4ml 1.3.0 converts: see the module docstring for the steps.

    Args:
        model: a ``qonnx.core.modelwrapper.ModelWrapper`` of an lmnet QONNX export (NCHW input).

    Returns:
        A new ``ModelWrapper`` with an NHWC input and integer activation codes.

    Raises:
        Hls4mlGraphError: a node outside the patterns handled (named in the message).
    """
    from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean
    from qonnx.transformation.gemm_to_matmul import GemmToMatMul
    from qonnx.util.cleanup import cleanup_model
    model = cleanup_model(label_layer_outputs(model))
    model = model.transform(ConvertToChannelsLastAndClean(make_input_channels_last=True))
    model = cleanup_model(model.transform(GemmToMatMul()))
    for rewrite in (split_concats, space_to_depth_as_reshapes, global_average_pool_as_matmul, integer_activations,
                    drop_output_identity, cancel_transpose_pairs):
        model = rewrite(model)
    return name_reshape_outputs(cleanup_model(model))


def activation_quants(model):
    """The activation ``Quant`` nodes (those not fed by an initializer), in graph order."""
    return [node for node in model.graph.node
            if node.op_type == "Quant" and model.get_initializer(node.input[0]) is None]


def label_layer_outputs(model):
    """Writes into the ``doc_string`` of each node that produces a Keras layer's output (the export's map
    ``lmnet_layer_outputs``) the layer's name, as :data:`LAYER_LABEL` + name. qonnx's cleanup renames every node
    and tensor, but keeps the nodes themselves; :func:`layer_of` reads the label back."""
    from lmnet.export.qonnx import layer_output_names
    for layer, tensor in layer_output_names(model.model).items():
        producer = model.find_producer(tensor)
        if producer is not None:
            producer.doc_string = LAYER_LABEL + layer
    return model


def layer_of(node):
    """The Keras layer name :func:`label_layer_outputs` wrote into ``node``, or ``None``."""
    return node.doc_string[len(LAYER_LABEL):] if node.doc_string.startswith(LAYER_LABEL) else None


# ---------------------------------------------------------------- helpers shared by the rewrites

def _attribute(node, name, default=None):
    for item in node.attribute:
        if item.name == name:
            return helper.get_attribute_value(item)
    return default


def _is_transpose(node, perm):
    return node is not None and node.op_type == "Transpose" and list(_attribute(node, "perm")) == perm


def _only_consumer(model, tensor):
    consumers = model.find_consumers(tensor) or []
    return consumers[0] if len(consumers) == 1 else None


def _replace(model, old_nodes, new_nodes):
    """Puts ``new_nodes`` where the first of ``old_nodes`` stood and drops the shapes of tensors that went away."""
    graph = model.graph
    index = min(list(graph.node).index(node) for node in old_nodes)
    kept = {name for node in new_nodes for name in node.output}
    for node in old_nodes:
        graph.node.remove(node)
    for offset, node in enumerate(new_nodes):
        graph.node.insert(index + offset, node)
    for node in old_nodes:
        for name in node.output:
            info = model.get_tensor_valueinfo(name)
            if name not in kept and info is not None:
                graph.value_info.remove(info)


def _constant(model, name, array):
    model.set_initializer(name, np.asarray(array))
    return name


def _infer_shapes(model):
    from qonnx.transformation.infer_shapes import InferShapes
    return model.transform(InferShapes())


def _write_output_directly(model, start_tensor, removed, output):
    """The producer of ``start_tensor`` writes the graph output ``output``; the ``removed`` nodes go.

    Returns:
        ``False`` (nothing changed) when ``start_tensor`` has no producer or other consumers.
    """
    producer = model.find_producer(start_tensor)
    if producer is None or len(model.find_consumers(start_tensor) or []) != 1:
        return False
    info = model.get_tensor_valueinfo(start_tensor)
    if info is not None:
        model.graph.value_info.remove(info)
    producer.output[list(producer.output).index(start_tensor)] = output
    for node in removed:
        model.graph.node.remove(node)
    return True


# ---------------------------------------------------------------- the rewrites

def split_concats(model, max_inputs=2):
    """NCHW ``Concat`` (axis 1) → NHWC ``Concat`` (axis 3) chains of at most ``max_inputs`` inputs.

    hls4ml parses ``Concat`` with at most two inputs (converters/onnx/merge.py:40), and qonnx's channels-last
    pass leaves LMFYolo's concatenation in NCHW between transposes. The transposes this adds around the chain
    cancel against those (:func:`cancel_transpose_pairs`).
    """
    for concat in list(model.get_nodes_by_op_type("Concat")):
        if _attribute(concat, "axis") != 1 or len(model.get_tensor_shape(concat.output[0]) or []) != 4:
            continue
        name = concat.name
        nodes = [helper.make_node("Transpose", [x], [f"{name}_in{k}_nhwc"], name=f"{name}_in{k}_T",
                                  perm=NCHW_TO_NHWC) for k, x in enumerate(concat.input)]
        joined, rest, part = nodes[0].output[0], [node.output[0] for node in nodes[1:]], 0
        while rest:
            take, rest = rest[:max_inputs - 1], rest[max_inputs - 1:]
            out = f"{name}_part{part}" if rest else f"{name}_nhwc"
            nodes.append(helper.make_node("Concat", [joined, *take], [out], name=f"{name}_{part}", axis=3))
            joined, part = out, part + 1
        nodes.append(helper.make_node("Transpose", [joined], [concat.output[0]], name=f"{name}_out_T",
                                      perm=NHWC_TO_NCHW))
        _replace(model, [concat], nodes)
    return cancel_transpose_pairs(_infer_shapes(model))


def space_to_depth_as_reshapes(model):
    """``Transpose`` to NCHW → ``SpaceToDepth(b)`` → ``Transpose`` to NHWC ⇒ ``Reshape [1, H/b, b, W/b, b·C]`` →
    ``Transpose (0, 1, 3, 2, 4)`` → ``Reshape [1, H/b, W/b, b·b·C]`` on the NHWC tensor.

    hls4ml 1.3.0 has no ``SpaceToDepth`` layer (converters/onnx_to_hls.py:239 rejects the op). NHWC
    ``x[b·i + dy, b·j + dx, c]`` lands at ``[i, j, (dy·b + dx)·C + c]``: TensorFlow's and ONNX's order.
    """
    for s2d in list(model.get_nodes_by_op_type("SpaceToDepth")):
        before, after = model.find_producer(s2d.input[0]), _only_consumer(model, s2d.output[0])
        if not (_is_transpose(before, NHWC_TO_NCHW) and _is_transpose(after, NCHW_TO_NHWC)
                and _only_consumer(model, before.output[0]) is s2d):
            raise Hls4mlGraphError(f"{s2d.name}: SpaceToDepth is not wrapped in NHWC<->NCHW transposes of its own")
        block = _attribute(s2d, "blocksize")
        batch, height, width, channels = model.get_tensor_shape(before.input[0])
        name = s2d.name
        split = _constant(model, f"{name}_shape5", np.array([batch, height // block, block, width // block,
                                                             block * channels], np.int64))
        merged = _constant(model, f"{name}_shape4", np.array([batch, height // block, width // block,
                                                              block * block * channels], np.int64))
        _replace(model, [before, s2d, after], [
            helper.make_node("Reshape", [before.input[0], split], [f"{name}_r5"], name=f"{name}_Reshape5"),
            helper.make_node("Transpose", [f"{name}_r5"], [f"{name}_t5"], name=f"{name}_Transpose5",
                             perm=[0, 1, 3, 2, 4]),
            helper.make_node("Reshape", [f"{name}_t5", merged], [after.output[0]], name=f"{name}_Reshape4")])
    return _infer_shapes(model)


def global_average_pool_as_matmul(model):
    """``Transpose`` to NCHW → ``GlobalAveragePool`` → ``Flatten`` ⇒ ``Flatten`` (NHWC order) → ``MatMul(A)`` with
    ``A[(h·W + w)·C + c, c] = 1 / (H·W)``.

    hls4ml's ONNX ``GlobalAveragePool`` parser reads NCHW dimensions but runs the layer channels-last
    (converters/onnx/pooling.py:81-101), so it averages the wrong values after the channels-last pass.
    """
    for pool in list(model.get_nodes_by_op_type("GlobalAveragePool")):
        before, flatten = model.find_producer(pool.input[0]), _only_consumer(model, pool.output[0])
        if not (_is_transpose(before, NHWC_TO_NCHW) and flatten is not None and flatten.op_type == "Flatten"
                and _only_consumer(model, before.output[0]) is pool):
            raise Hls4mlGraphError(f"{pool.name}: expected Transpose to NCHW -> GlobalAveragePool -> Flatten")
        _, height, width, channels = model.get_tensor_shape(before.input[0])
        average = np.zeros((height * width * channels, channels), np.float32)
        for position in range(height * width):
            average[position * channels + np.arange(channels), np.arange(channels)] = 1.0 / (height * width)
        weights = _constant(model, f"{pool.name}_average", average)
        _replace(model, [before, pool, flatten], [
            helper.make_node("Flatten", [before.input[0]], [f"{pool.name}_flat"], name=f"{pool.name}_Flatten",
                             axis=1),
            helper.make_node("MatMul", [f"{pool.name}_flat", weights], [flatten.output[0]],
                             name=f"{pool.name}_MatMul")])
    return _infer_shapes(model)


def integer_activations(model):
    """Every activation ``Quant`` with a scalar scale ``s != 1`` gets scale 1 (its outputs are the integer codes):

    * the ``BatchNormalization`` feeding it gets ``gamma / s`` and ``beta / s``, so its codes are unchanged;
    * ``s`` moves into the weight quantizer of every ``Conv`` the codes reach through ops that only move values
      (:data:`lmnet.export.qonnx_checks.VALUE_MOVING_OPS`)
      (``BipolarQuant``: scale ``· s``; ``Quant``: value and scale ``· s``, same codes).

    hls4ml's scale propagation fails on a scalar activation scale against a per-channel weight scale
    (model/optimizer/passes/move_scales.py:354-391 leaves a precision unresolved; infer_precision.py:26 then
    raises). Exact in real arithmetic; in float32 the rescaled batch norm may move a value that lies within
    an ulp of a level boundary (the tests count such flips: none seen).
    """
    arrivals = {}
    for quant in activation_quants(model):
        scale = model.get_initializer(quant.input[1])
        if np.ndim(scale) and not np.all(scale == scale.flat[0]):
            raise Hls4mlGraphError(f"{quant.name}: per-channel activation scale")
        scale = np.float32(np.ravel(scale)[0])
        if scale == 1:
            continue
        if np.any(model.get_initializer(quant.input[2])):
            raise Hls4mlGraphError(f"{quant.name}: non-zero zero point")
        norm = model.find_producer(quant.input[0])
        if norm is None or norm.op_type != "BatchNormalization" or _only_consumer(model, norm.output[0]) is not quant:
            raise Hls4mlGraphError(f"{quant.name}: not fed by a BatchNormalization of its own")
        for index in (1, 2):  # gamma, beta
            model.set_initializer(norm.input[index], (model.get_initializer(norm.input[index]) / scale)
                                  .astype(np.float32))
        model.set_initializer(quant.input[1], np.float32(1.0))
        _scale_consumers(model, quant.output[0], scale, quant.name, arrivals)
    return _infer_shapes(model)


def _scale_consumers(model, tensor, scale, origin, arrivals):
    """Moves ``scale`` into the weights of the convolutions ``tensor`` reaches; a ``Concat`` passes it on once all
    its inputs have arrived, with one scale (``arrivals`` counts them)."""
    for node in model.find_consumers(tensor) or []:
        if node.op_type == "Concat":
            seen = arrivals.setdefault(node.name, [])
            seen.append(scale)
            if len(seen) < len(node.input):
                continue
            if any(value != seen[0] for value in seen):
                raise Hls4mlGraphError(f"{node.name}: concatenates activations of different scales {seen}, which the "
                                       "next convolution's binary kernel cannot absorb (learned ranges, pact or lsq, "
                                       "differ between the inputs of a concatenation; tie them with one "
                                       "lmnet.layers.SharedRange, as lmnet's detectors do, or train the "
                                       "network with linear_mid_tread_half)")
            _scale_consumers(model, node.output[0], scale, origin, arrivals)
        elif node.op_type in VALUE_MOVING_OPS:
            _scale_consumers(model, node.output[0], scale, origin, arrivals)
        elif node.op_type == "Conv" and node.input[0] == tensor and len(node.input) == 2:
            _scale_weight_quantizer(model, node, scale, origin)
        else:
            raise Hls4mlGraphError(f"the codes of {origin} reach {node.op_type} {node.name}, which cannot take "
                                   f"their scale {scale}")


def _scale_weight_quantizer(model, conv, scale, origin):
    quantizer = model.find_producer(conv.input[1])
    if quantizer is None or quantizer.op_type not in ("BipolarQuant", "Quant"):
        raise Hls4mlGraphError(f"{conv.name} (after {origin}) has float weights; the activation scale cannot move "
                               f"into them exactly")
    model.set_initializer(quantizer.input[1], (model.get_initializer(quantizer.input[1]) * scale)
                          .astype(np.float32))
    if quantizer.op_type == "Quant":
        model.set_initializer(quantizer.input[0], (model.get_initializer(quantizer.input[0]) * scale)
                              .astype(np.float32))


def drop_output_identity(model):
    """An ``Identity`` producing a graph output goes; its producer writes the output.

    hls4ml skips ``Identity`` nodes but names the output layer after them (converters/onnx_to_hls.py:163), and the
    generated top function then has no output argument.
    """
    outputs = {output.name for output in model.graph.output}
    for node in list(model.graph.node):
        if node.op_type == "Identity" and node.output[0] in outputs:
            if not _write_output_directly(model, node.input[0], [node], node.output[0]):
                raise Hls4mlGraphError(f"{node.name}: its input has other consumers")
    return _infer_shapes(model)


def _inverse(first, second):
    return [first[index] for index in second] == list(range(len(first)))


def cancel_transpose_pairs(model):
    """``Transpose(p)`` → ``Transpose(q)`` that undo each other, the first feeding only the second: both go."""
    outputs = {output.name for output in model.graph.output}
    changed = True
    while changed:
        changed = False
        for first in model.get_nodes_by_op_type("Transpose"):
            second = _only_consumer(model, first.output[0])
            if second is None or second.op_type != "Transpose" or not _inverse(_attribute(first, "perm"),
                                                                               _attribute(second, "perm")):
                continue
            if second.output[0] in outputs:
                changed = _write_output_directly(model, first.input[0], [first, second], second.output[0])
            else:
                for consumer in model.find_consumers(second.output[0]) or []:
                    consumer.input[:] = [first.input[0] if name == second.output[0] else name
                                         for name in consumer.input]
                model.graph.node.remove(first)
                model.graph.node.remove(second)
                changed = True
            if changed:
                break
    return _infer_shapes(model)


def name_reshape_outputs(model):
    """Each ``Reshape``'s output tensor is renamed to the node's name (run after the last cleanup).

    hls4ml's io_stream reshape pass looks the output variable up by the layer name
    (backends/fpga/passes/repack_stream.py:64), but the ONNX front end keys it by the tensor name.
    """
    outputs = {output.name for output in model.graph.output}
    for node in list(model.get_nodes_by_op_type("Reshape")):
        if node.output[0] != node.name and node.output[0] not in outputs:
            model.rename_tensor(node.output[0], node.name)
    return model
