"""The frozen TF1 GraphDef of a Keras model, as the hardware converter reads it (ARCHITECTURE §7).

:func:`build_graph_def` walks the functional model's layers in a fresh ``tf.Graph`` and emits each
one with plain TensorFlow ops and the model's weights as ``Const`` nodes:

* ``images_placeholder``: ``Placeholder`` float32 ``[1, H, W, 3]`` (the pre-processed image);
* convolutions: ``Conv2D`` (+ ``BiasAdd``); a quantized kernel is its float ``Const`` fed through
  one ``QTZ_<weight quantizer>`` node;
* batch norm: ``FusedBatchNormV3`` (inference form);
* activations: ``Relu``, ``LeakyRelu`` or one ``QTZ_<activation quantizer>`` node;
* a max pooling of quantized activations is emitted as ``MaxPool`` of the values *before* the
  activation quantizer, then the quantizer again (``max(q(x)) = q(max(x))`` for the monotone
  activation quantizers, so the numbers are the same): Blueoil's converter packs 2-bit
  activations, and its x86 runtime has no ``MaxPool`` of packed tensors; the unused first
  quantizer node is pruned when nothing else reads it;
* space-to-depth ``SpaceToDepth``, pooling ``MaxPool`` / ``AvgPool`` (global average pooling is an
  ``AvgPool`` over the whole map then a ``Reshape``), ``ConcatV2``, ``Reshape``, ``MatMul``,
  ``Softmax``; dropout disappears;
* ``output``: an ``Identity`` of the network output (``network.model``'s output).

Every node carries ``_output_shapes``. Node names start with the Keras layer name
(``conv1/Conv2D``, ``conv1_bn/FusedBatchNormV3``, ``conv1_act/QTZ_linear_mid_tread_half``).
"""
import numpy as np
import tensorflow as tf

from lmnet.errors import LmnetError
from lmnet.export.qtz import PREFIX, GraphQuantizers, node_arguments
from lmnet.layers.forms import form_of

PLACEHOLDER_NAME = "images_placeholder"
OUTPUT_NAME = "output"

#: Op types a hardware converter knows (besides the ``QTZ_*`` quantizer functions).
CONVERTER_OPS = frozenset([
    "Conv2D", "FusedBatchNorm", "FusedBatchNormV3", "BiasAdd", "Add", "AddV2", "Mul", "Maximum", "Minimum", "Relu",
    "LeakyRelu", "MaxPool", "AvgPool", "ConcatV2", "SpaceToDepth", "DepthToSpace", "Reshape", "Transpose",
    "Identity", "Pad", "Softmax", "MatMul", "Const", "Placeholder",
])


def build_graph_def(model, image_size, layer_nodes=None, values=None):
    """Returns the frozen, shape-annotated ``GraphDef`` of ``model`` at batch 1.

    Args:
        model: a functional Keras model with one image input (``network.model``).
        image_size: ``(height, width)`` of the input.
        layer_nodes: a dict that receives ``{Keras layer name: node computing its output}`` (a layer whose
            output node was pruned, as a quantizer re-applied after a max pooling, is left out).
        values: ``{id(variable): value}`` to write instead of the model's variables (default: their values;
            :func:`lmnet.export.converter_ranges.converter_values` moves learned ranges).

    Returns:
        A ``tf.compat.v1.GraphDef``.

    Raises:
        LmnetError: the model holds a layer (or layer setting) this exporter cannot express.
    """
    if values is None:
        values = {id(variable): variable.numpy() for variable in model.weights}
    graph = tf.Graph()
    with graph.as_default():
        images = tf.compat.v1.placeholder(tf.float32, [1, *image_size, 3], name=PLACEHOLDER_NAME)
        emitter = _Emitter(GraphQuantizers(), values)
        (output,) = _as_list(model._run_through_graph([images], operation_fn=emitter.operation))
        final = tf.identity(output, name=OUTPUT_NAME)
    graph_def = graph.as_graph_def(add_shapes=True)
    _rename_node(graph_def, final.op.name, OUTPUT_NAME)
    pruned = _prune(graph_def)
    if layer_nodes is not None:
        present = {node.name for node in pruned.node}
        layer_nodes.update({layer: node for layer, node in emitter.layer_nodes.items() if node in present})
    return pruned


def _prune(graph_def):
    """``graph_def`` without the nodes the output does not depend on (the placeholder is always kept)."""
    pruned = _sub_graph(graph_def, OUTPUT_NAME)
    if not any(node.name == PLACEHOLDER_NAME for node in pruned.node):
        raise LmnetError("export: the network output does not depend on its input image")
    return pruned


def _sub_graph(graph_def, output_name):
    """The nodes ``output_name`` depends on (data and control inputs), in their order in ``graph_def``; what
    TensorFlow 1's deprecated ``graph_util.extract_sub_graph`` computes."""
    by_name = {node.name: node for node in graph_def.node}
    needed, pending = set(), [output_name]
    while pending:
        name = pending.pop()
        if name in needed:
            continue
        needed.add(name)
        pending.extend(source.lstrip("^").split(":")[0] for source in by_name[name].input)
    pruned = tf.compat.v1.GraphDef()
    pruned.versions.CopyFrom(graph_def.versions)
    pruned.library.CopyFrom(graph_def.library)
    pruned.node.extend(node for node in graph_def.node if node.name in needed)
    return pruned


def _as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _rename_node(graph_def, old, new):
    """Renames node ``old`` (which nothing consumes) to ``new``."""
    if old == new:
        return
    if any(node.name == new for node in graph_def.node):
        raise ValueError(f"the graph already has a node named {new}")
    for node in graph_def.node:
        if node.name == old:
            node.name = new


class _Emitter:
    """The graph context of :mod:`lmnet.layers.forms`: emits each Keras layer with its form's ``graph``."""

    def __init__(self, quantizers, values):
        self.quantizers = quantizers
        self.values = values
        self.quantized_inputs = {}  # name of a QTZ activation's output -> (its input, quantizer layer)
        self.layer_nodes = {}  # Keras layer name -> name of the node computing its output

    def operation(self, layer):
        """Returns ``f(*inputs, **kwargs) -> tensor`` emitting ``layer`` into the current graph."""
        graph = form_of(layer).graph
        if graph is None:
            raise LmnetError(f"export: no graph form for layer {layer.name} ({type(layer).__name__})")

        def emit(*args, **kwargs):
            with tf.name_scope(layer.name):
                output = graph(self, layer, *args)
            self.layer_nodes[layer.name] = output.op.name
            return output
        return emit

    def const(self, variable, name):
        """A float32 ``Const`` node holding the value of a model variable."""
        return tf.constant(np.asarray(self.values[id(variable)], np.float32), name=name)

    def quantize(self, quantizer, x, kwargs):
        """``x`` through one ``QTZ_<quantizer>`` node."""
        return self.quantizers.apply(quantizer, x, kwargs, PREFIX + quantizer)

    def remember_quantized(self, output, source, layer):
        """Notes that ``output`` is ``source`` through the activation quantizer of ``layer``."""
        self.quantized_inputs[output.name] = (source, layer)

    def quantized_source(self, x):
        """``(input, quantizer layer)`` when ``x`` is a remembered quantizer output, else ``None``."""
        return self.quantized_inputs.get(x.name)


def unsupported_ops(graph_def):
    """Sorted op types of ``graph_def`` outside :data:`CONVERTER_OPS` and the ``QTZ_*`` functions."""
    return sorted({node.op for node in graph_def.node
                   if node.op not in CONVERTER_OPS and not node.op.startswith(PREFIX)})


#: Blueoil's converter accumulates a quantized convolution in 16-bit integers: input channels x kernel taps x
#: (2**bit - 1) of the 2-bit (n-bit) input must stay within this, or its generated code stops on an assertion.
DLK_ACCUMULATOR_LIMIT = 32767
#: The input range (``max_value``, 2 bits) Blueoil's converter assumes for a quantized convolution without a
#: threshold table, whatever its input quantizer says (:mod:`lmnet.export.converter_ranges` moves learned ones).
DLK_UNTHRESHOLDED_INPUT = 2.0


def converter_limit_warnings(graph_def):
    """Messages naming each convolution that Blueoil's converter cannot run (see :data:`DLK_ACCUMULATOR_LIMIT`).

    Returns:
        A list of strings, empty when every quantized convolution fits.
    """
    nodes = {node.name: node for node in graph_def.node}
    messages = []
    for node in graph_def.node:
        source = _feeding_quantizer(nodes, node.input[0]) if node.op == "Conv2D" else None
        if source is None:
            continue
        quantizer, arguments = node_arguments(nodes, source)
        if quantizer.role != "activation":
            continue
        steps = 2 ** quantizer.bits(**arguments) - 1
        kernel = nodes[node.input[1].split(":")[0]].attr["_output_shapes"].list.shape[0].dim
        height, width, channels = (dim.size for dim in kernel[:3])
        total = channels * height * width * steps
        if total > DLK_ACCUMULATOR_LIMIT:
            messages.append(f"{node.name}: {channels} input channels x {height}x{width} taps x {steps} "
                            f"levels = {total} exceeds the 16-bit accumulator of Blueoil's converter "
                            f"({DLK_ACCUMULATOR_LIMIT}); its generated code stops on an assertion there")
        if (arguments.get("max_value"), quantizer.bits(**arguments)) != (DLK_UNTHRESHOLDED_INPUT, 2) \
                and _quantized_kernel(nodes, node) and not _has_threshold_table(nodes, node):
            messages.append(f"{node.name}: Blueoil's converter computes this quantized convolution (no threshold "
                            f"table: no activation quantizer follows it) as if its input had max_value "
                            f"{DLK_UNTHRESHOLDED_INPUT} and 2 bits (blueoil/converter/core/view.py), but "
                            f"{source.name} quantizes with {arguments}: its outputs would be wrong")
    return messages + concat_scale_warnings(nodes)


#: Ops the converter folds into a threshold table between a convolution and the activation quantizer after it.
_THRESHOLD_FOLDED = frozenset(["FusedBatchNormV3", "FusedBatchNorm", "BiasAdd", "Add", "AddV2", "Mul", "Identity"])


def _quantized_kernel(nodes, conv):
    """Whether ``conv``'s kernel comes from a ``QTZ_*`` node."""
    source = nodes.get(conv.input[1].split(":")[0])
    return source is not None and source.op.startswith(PREFIX)


def _has_threshold_table(nodes, conv):
    """Whether the converter turns ``conv`` and what follows it into a threshold table: its output reaches an
    activation quantizer through a chain of batch-norm-like ops, each read by one node only."""
    node = conv
    while True:
        readers = [other for other in nodes.values() if any(name.split(":")[0] == node.name for name in other.input)]
        if len(readers) != 1:
            return False
        node = readers[0]
        if node.op.startswith(PREFIX):
            return True
        if node.op not in _THRESHOLD_FOLDED:
            return False


def concat_scale_warnings(nodes):
    """Messages naming each concatenation of quantized activations with different arguments (scales).

    Blueoil's converter gives the convolution after a concatenation the scale of one of its inputs, so with two
    scales (learned ranges, ``pact`` or ``lsq``, on a side path) its outputs are wrong. (Measured on a PACT-trained
    LMTinyYoloQuantize, whose only difference from a linear_mid_tread_half one that the converter computes exactly
    is its learned ranges: every output value of the converter's build differed, by up to 2.3, while lmnet's own
    forms agreed.) lmnet's detectors tie the learned ranges of the activations their concatenation joins
    (:class:`~lmnet.layers.quantized.SharedRange`), so this warns about networks built otherwise.

    Args:
        nodes: ``{name: NodeDef}`` of the graph.

    Returns:
        A list of strings, empty when every concatenation has one scale.
    """
    messages = []
    for node in nodes.values():
        if node.op != "ConcatV2":
            continue
        sources = [_feeding_quantizer(nodes, name) for name in node.input if nodes[name.split(":")[0]].op != "Const"]
        arguments = {source.name: node_arguments(nodes, source)[1] for source in sources if source is not None}
        if len({tuple(sorted(values.items())) for values in arguments.values()}) > 1:
            shown = "; ".join(f"{name} {values}" for name, values in arguments.items())
            messages.append(f"{node.name}: concatenates quantized activations of different scales ({shown}); "
                            "Blueoil's converter uses one scale there and computes wrong outputs (learned ranges, "
                            "pact or lsq, differ between the inputs of a concatenation; tie them with one "
                            "lmnet.layers.SharedRange, as lmnet's detectors do, or train the network with "
                            "linear_mid_tread_half)")
    return messages


#: Ops that only move values, between an activation quantizer and the convolution reading its output.
_DATA_MOVES = frozenset(["SpaceToDepth", "DepthToSpace", "MaxPool", "Identity", "ConcatV2", "Reshape", "Transpose"])


def _feeding_quantizer(nodes, tensor_name):
    """The ``QTZ_*`` node whose values reach ``tensor_name`` through data moves only, or ``None``."""
    node = nodes.get(tensor_name.split(":")[0])
    while node is not None and node.op in _DATA_MOVES:
        inputs = [nodes.get(name.split(":")[0]) for name in node.input]
        node = next((source for source in inputs if source is not None and source.op != "Const"), None)
    return node if node is not None and node.op.startswith(PREFIX) else None


def quantizer_nodes(graph_def):
    """``{node name: op type}`` of the ``QTZ_*`` nodes."""
    return {node.name: node.op for node in graph_def.node if node.op.startswith(PREFIX)}


def import_graph_def(graph_def):
    """Imports ``graph_def`` (names unchanged) into a new ``tf.Graph`` and returns it."""
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    return graph


def run_graph_def(graph_def, image, node_names=(OUTPUT_NAME,)):
    """Runs the graph on one pre-processed image in a ``tf.compat.v1.Session``.

    Args:
        graph_def: the exported graph.
        image: float32 ``[1, H, W, 3]``.
        node_names: nodes whose first output to fetch.

    Returns:
        ``{node name: np.ndarray}``.
    """
    graph = import_graph_def(graph_def)
    fetches = {name: graph.get_operation_by_name(name).outputs[0] for name in node_names}
    with tf.compat.v1.Session(graph=graph) as session:
        feed = {graph.get_tensor_by_name(f"{PLACEHOLDER_NAME}:0"): np.asarray(image, np.float32)}
        return session.run(fetches, feed_dict=feed)


def graph_runner(graph_def):
    """A reusable ``f(image [1, H, W, 3]) -> output`` of the graph (one session, kept open)."""
    graph = import_graph_def(graph_def)
    session = tf.compat.v1.Session(graph=graph)
    placeholder = graph.get_tensor_by_name(f"{PLACEHOLDER_NAME}:0")
    output = graph.get_tensor_by_name(f"{OUTPUT_NAME}:0")

    def run(image):
        return session.run(output, feed_dict={placeholder: np.asarray(image, np.float32)})
    return run


def output_nodes(graph_def):
    """Names of the nodes that have an output tensor (every node but those without outputs), in graph order."""
    return [node.name for node in graph_def.node if node.attr["_output_shapes"].list.shape]
