"""Per-layer profile of a network: parameters, MACs, FLOPs, weight and activation memory at their bit widths.

Counting rules (batch size 1, every count is for one image):

* **Convolutions and dense layers** (any layer with a ``kernel``): MACs = output elements x (kernel
  elements / output channels), i.e. one multiply-accumulate per kernel tap feeding each output
  value (this covers grouped and depthwise convolutions). FLOPs = 2 x MACs. Bias additions are not
  counted.
* **Batch normalization**: MACs 0, FLOPs = 2 x output elements (one multiply and one add with the
  scale and offset folded).
* **Activations** (ReLU, leaky ReLU, softmax, ``QuantizedActivation`` …): MACs 0, FLOPs = 1 x
  output elements.
* **Pooling**: MACs 0, FLOPs = output elements x pooling window (global pooling: the whole input
  height x width).
* **Element-wise merges** (add, multiply, maximum …): MACs 0, FLOPs = (inputs - 1) x output elements.
* **Everything else** (input, space-to-depth, concatenation, reshape, dropout, padding): 0; they
  only move data.

Bit widths:

* A layer's **weight bits** are those its weight quantizer states
  (:meth:`lmnet.quantizations.Quantizer.bits`: 1 for the binary quantizers, 2 for ``ternary``, the
  ``bit`` argument of ``linear_mid_tread_half``). Layers without a quantizer, and layers named in
  ``unquant_layers``, are 32-bit floats.
* **Weight bytes** = weight bits x kernel elements / 8, plus 4 bytes for every other parameter:
  biases and batch-norm parameters always stay 32-bit.
* **Activation bytes** = output elements x activation bits / 8, where the activation bits are those
  of the quantizer of a ``QuantizedActivation`` layer (same rule as for weights) and 32 for every
  other layer (also for layers that only move already quantized values, such as space-to-depth).

* A kernel layer's **input bits** are the activation bits of the layer that produced its input, looked
  for through layers that only move values (space-to-depth, concatenation, max pooling …; their form's
  ``moves_values``); 32 for the image and any other input. **Bit operations** = MACs x input bits x weight
  bits, qonnx's ``bops``.

Totals: parameters, MACs, FLOPs, fp32 size (every parameter at 4 bytes), quantized size (sum of
the weight bytes), compression ratio (fp32 / quantized), the share of MACs done by layers whose
weights are quantized (weight bits < 32), bit operations, and the kernel weight bits (kernel elements x
weight bits; qonnx's ``mem_w`` bits). The last two, with the MACs, are what
:func:`lmnet.export.qonnx_checks.inference_cost` reads from the exported QONNX model.

Upstream Blueoil's profile counts differently, and the totals give its numbers too, so the two can
be compared: its **parameters** are the learned ones (kernels, biases, batch-norm gamma and beta;
``learned_params``), without the batch-norm moving means and variances (``moving_statistics``,
listed apart); its **FLOPs** are 2 x the MACs of the convolutions and dense layers only
(``conv_flops``).
"""
import dataclasses
import math
import os

import keras

from lmnet import builders, config as config_module, experiment, outputs
from lmnet.environment import PROFILE_ENTRIES
from lmnet.errors import DatasetError, LmnetError
from lmnet.layers.forms import form_of
from lmnet.layers.quantized import QuantizedActivation
from lmnet.quantizations import get_quantizer

FLOAT_BITS = 32


class ProfileError(LmnetError):
    """A profiling request names something the network does not have."""


@dataclasses.dataclass
class LayerProfile:
    """The profile of one Keras layer.

    Attributes:
        name: the layer name.
        type: the layer class name.
        output_shape: output shape with batch size 1.
        params: number of parameters (trainable or not).
        macs: multiply-accumulates.
        flops: floating-point (or fixed-point) operations, see the module rules.
        weight_bits: bit width of the kernel (32 without a kernel quantizer).
        weight_bytes: kernel at ``weight_bits`` plus the other parameters at 32 bits, in bytes.
        activation_bits: bit width of the output.
        activation_bytes: output elements at ``activation_bits``, in bytes.
        moving_statistics: batch-norm moving means and variances among ``params`` (0 elsewhere).
        kernel_elements: elements of the kernel (0 without one).
        input_bits: bit width of the values a kernel multiplies (32 without a kernel).
        bit_operations: ``macs x input_bits x weight_bits``.
    """

    name: str
    type: str
    output_shape: list
    params: int
    macs: int
    flops: int
    weight_bits: int
    weight_bytes: float
    activation_bits: int
    activation_bytes: float
    moving_statistics: int = 0
    kernel_elements: int = 0
    input_bits: int = FLOAT_BITS
    bit_operations: int = 0


@dataclasses.dataclass
class ModelProfile:
    """The profile of a whole model.

    Attributes:
        name: experiment id or config name.
        layers: one :class:`LayerProfile` per layer, in model order.
        checkpoint: the restored checkpoint, or ``None``.
    """

    name: str
    layers: list
    checkpoint: str = None

    def totals(self):
        """Returns the totals (parameters, MACs, FLOPs, sizes, compression, quantized MAC share)."""
        params = sum(layer.params for layer in self.layers)
        macs = sum(layer.macs for layer in self.layers)
        quantized_macs = sum(layer.macs for layer in self.layers if layer.weight_bits < FLOAT_BITS)
        fp32_bytes = params * FLOAT_BITS // 8
        quantized_bytes = _bytes_value(sum(layer.weight_bytes for layer in self.layers) * 8)
        return {"params": params, "macs": macs, "flops": sum(layer.flops for layer in self.layers),
                "fp32_bytes": fp32_bytes, "quantized_bytes": quantized_bytes,
                "compression_ratio": fp32_bytes / quantized_bytes if quantized_bytes else 1.0,
                "quantized_macs_share": quantized_macs / macs if macs else 0.0,
                "activation_bytes": _bytes_value(sum(layer.activation_bytes for layer in self.layers) * 8),
                "bit_operations": sum(layer.bit_operations for layer in self.layers),
                "kernel_weight_bits": sum(layer.kernel_elements * layer.weight_bits for layer in self.layers),
                **self.upstream_totals()}

    def upstream_totals(self):
        """Totals in upstream Blueoil's convention (see the module notes).

        Returns:
            ``{"learned_params", "moving_statistics", "conv_flops"}``.
        """
        statistics = sum(layer.moving_statistics for layer in self.layers)
        return {"learned_params": sum(layer.params for layer in self.layers) - statistics,
                "moving_statistics": statistics,
                "conv_flops": 2 * sum(layer.macs for layer in self.layers)}  # only layers with a kernel have MACs

    def to_dict(self):
        """The profile as JSON-ready data."""
        return {"name": self.name, "checkpoint": self.checkpoint,
                "layers": [dataclasses.asdict(layer) for layer in self.layers], "totals": self.totals()}


def quantizer_bits(name, kwargs):
    """Bits per value of quantizer ``name`` called with ``kwargs`` (:meth:`~lmnet.quantizations.Quantizer.bits`)."""
    quantizer = get_quantizer(name)
    return quantizer.bits(**quantizer.arguments(kwargs))


def _bytes_value(bits):
    """``bits / 8`` as an int when whole (a float otherwise, exact in binary)."""
    bits = round(bits)
    return bits // 8 if bits % 8 == 0 else bits / 8


def _output_shape(layer):
    """The layer's output shape with the batch dimension set to 1."""
    shape = list(layer.output.shape)
    return [1 if dim is None else int(dim) for dim in shape]


def _input_shapes(layer):
    """Shapes of the layer's inputs (a list, batch set to 1)."""
    inputs = layer.input if isinstance(layer.input, (list, tuple)) else [layer.input]
    return [[1 if dim is None else int(dim) for dim in tensor.shape] for tensor in inputs]


def _kernel(layer):
    """The layer's kernel variable, or ``None``."""
    return getattr(layer, "kernel", None) if getattr(layer, "built", False) else None


def count_ops(layer, output_shape):
    """``(macs, flops)`` of one layer: its form's ``cost`` (:mod:`lmnet.layers.forms`), the module's rules."""
    return form_of(layer).cost(layer, output_shape, _input_shapes(layer))


def weight_bits(layer, unquant_layers=()):
    """Bit width of the layer's kernel: its quantizer's, 32 when float or named in ``unquant_layers``."""
    name = getattr(layer, "weight_quantizer", None)
    if not name or layer.name in unquant_layers:
        return FLOAT_BITS
    return quantizer_bits(name, layer.weight_quantizer_kwargs)


def activation_bits(layer):
    """Bit width of the layer's output: its activation quantizer's, else 32."""
    if not isinstance(layer, QuantizedActivation):
        return FLOAT_BITS
    return quantizer_bits(*layer.exported())


def input_bits(layer):
    """Bit width of the values entering ``layer``: the activation bits of their producer, found through layers
    that only move values; 32 for the image (or when the inputs differ)."""
    def producer_bits(tensor):
        producer = tensor._keras_history.operation
        if isinstance(producer, QuantizedActivation):
            return activation_bits(producer)
        if form_of(producer).moves_values and not isinstance(producer, keras.layers.InputLayer):
            return input_bits(producer)
        return FLOAT_BITS
    inputs = layer.input if isinstance(layer.input, (list, tuple)) else [layer.input]
    bits = {producer_bits(tensor) for tensor in inputs}
    return bits.pop() if len(bits) == 1 else FLOAT_BITS


def profile_layer(layer, unquant_layers=()):
    """Returns the :class:`LayerProfile` of one built Keras layer."""
    shape = _output_shape(layer)
    macs, flops = count_ops(layer, shape)
    params = int(layer.count_params())
    kernel = _kernel(layer)
    kernel_size = math.prod(kernel.shape) if kernel is not None else 0
    bits = weight_bits(layer, unquant_layers) if kernel is not None else FLOAT_BITS
    act_bits = activation_bits(layer)
    in_bits = input_bits(layer) if kernel is not None else FLOAT_BITS
    return LayerProfile(name=layer.name, type=type(layer).__name__, output_shape=shape, params=params,
                        macs=macs, flops=flops, weight_bits=bits,
                        weight_bytes=_bytes_value(bits * kernel_size + FLOAT_BITS * (params - kernel_size)),
                        activation_bits=act_bits, activation_bytes=_bytes_value(act_bits * math.prod(shape)),
                        moving_statistics=moving_statistics(layer), kernel_elements=kernel_size,
                        input_bits=in_bits, bit_operations=macs * in_bits * bits)


def moving_statistics(layer):
    """Number of batch-norm moving means and variances of ``layer`` (0 for other layers)."""
    if not isinstance(layer, keras.layers.BatchNormalization) or not layer.built:
        return 0
    return sum(math.prod(variable.shape) for variable in (layer.moving_mean, layer.moving_variance))


def check_unquant_layers(model, unquant_layers):
    """Raises :class:`ProfileError` naming any entry of ``unquant_layers`` that is not a layer of ``model``."""
    names = {layer.name for layer in model.layers}
    unknown = [name for name in unquant_layers if name not in names]
    if unknown:
        weighted = [layer.name for layer in model.layers if _kernel(layer) is not None]
        raise ProfileError(f"unknown layer {', '.join(map(repr, unknown))} in --unquant_layers; "
                           f"layers with weights: {', '.join(weighted)}")


def profile_keras_model(model, name, unquant_layers=(), checkpoint=None):
    """Profiles every layer of a built Keras functional model.

    Args:
        model: the Keras model.
        name: name of the profile (experiment id or config name).
        unquant_layers: names of layers whose weights count as 32-bit floats.
        checkpoint: path of the restored checkpoint, recorded in the profile.

    Returns:
        A :class:`ModelProfile`.

    Raises:
        ProfileError: a name in ``unquant_layers`` is not a layer of the model.
    """
    unquant_layers = tuple(unquant_layers or ())
    check_unquant_layers(model, unquant_layers)
    layers = [profile_layer(layer, unquant_layers) for layer in model.layers]
    return ModelProfile(name=name, layers=layers, checkpoint=checkpoint)


# ---------------------------------------------------------------- reports

MARKDOWN_COLUMNS = ("layer", "type", "output shape", "params", "MACs", "FLOPs", "weight bits", "weight bytes",
                    "activation bits", "activation bytes")

TOTAL_LABELS = (("params", "parameters"), ("macs", "MACs"), ("flops", "FLOPs"), ("fp32_bytes", "fp32 size (bytes)"),
                ("quantized_bytes", "quantized size (bytes)"), ("compression_ratio", "compression ratio"),
                ("quantized_macs_share", "quantized MACs share"), ("activation_bytes", "activation memory (bytes)"),
                ("learned_params", "learned parameters (Blueoil's count: no moving statistics)"),
                ("moving_statistics", "batch-norm moving means and variances"),
                ("conv_flops", "convolution FLOPs (Blueoil's count: 2 x conv MACs)"),
                ("bit_operations", "bit operations (MACs x input bits x weight bits; qonnx's bops)"),
                ("kernel_weight_bits", "kernel weight bits (kernel elements x weight bits; qonnx's mem_w bits)"))


def _format_number(value):
    """Integers plainly, other numbers with up to 6 significant digits."""
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return str(int(value))
    return f"{value:.6g}"


def _layer_row(layer):
    shape = "x".join(str(dim) for dim in layer.output_shape)
    values = (layer.name, layer.type, shape, layer.params, layer.macs, layer.flops, layer.weight_bits,
              layer.weight_bytes, layer.activation_bits, layer.activation_bytes)
    return [v if isinstance(v, str) else _format_number(v) for v in values]


def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def to_markdown(profile):
    """The profile as markdown: a per-layer table, then a table of totals."""
    lines = [f"# Profile of {profile.name}", ""]
    if profile.checkpoint:
        lines += [f"Checkpoint: `{profile.checkpoint}`", ""]
    lines += _table(MARKDOWN_COLUMNS, [_layer_row(layer) for layer in profile.layers])
    totals = profile.totals()
    lines += ["", "## Totals", ""]
    lines += _table(("total", "value"), [[label, _format_number(totals[key])] for key, label in TOTAL_LABELS])
    return "\n".join(lines) + "\n"


def write_profile(profile, output_dir):
    """Writes ``<name>_profile.md`` and ``<name>_profile.json`` into ``output_dir``; returns both paths."""
    os.makedirs(output_dir, exist_ok=True)
    md_path, json_path = (os.path.join(output_dir, name.format(id=profile.name)) for name in PROFILE_ENTRIES)
    outputs.write_atomically(md_path, lambda stream: stream.write(to_markdown(profile)))
    outputs.write_json(json_path, profile.to_dict())
    return md_path, json_path


# ---------------------------------------------------------------- from a config or an experiment

def config_classes(config, data_dir):
    """Class source (see :func:`lmnet.experiment.validation_classes`) for profiling and latency: ``CLASSES``
    if known, else read from the training dataset.

    Raises:
        ProfileError: the config has no classes and the dataset cannot be read.
    """
    if config.CLASSES:
        return list(config.CLASSES), None
    try:
        dataset = builders.build_dataset(config, data_dir, "train")
    except (DatasetError, OSError) as error:
        raise ProfileError(f"the config sets no CLASSES and the dataset cannot tell them ({error}); "
                           f"set CLASSES in the config to profile without the data") from None
    return builders.dataset_classes(config, dataset), dataset


def profile_opened(opened, name, unquant_layers=()):
    """Profiles the network of an :class:`lmnet.experiment.OpenExperiment`."""
    return profile_keras_model(opened.network.model, name, unquant_layers=unquant_layers, checkpoint=opened.checkpoint)


def profile_config(config, name, data_dir, unquant_layers=(), checkpoint=None):
    """Profiles the network of a validated config (restoring ``checkpoint`` first when given)."""
    opened = experiment.open_config(config, data_dir, checkpoint, classes=config_classes)
    return profile_opened(opened, name, unquant_layers)


def profile_experiment(environment, experiment_id=None, config_file=None, restore_path=None, unquant_layers=(),
                       output_dir=None, overrides=()):
    """Profiles an experiment (``experiment_id``) or a config alone (``config_file``) and writes the reports.

    The name of the reports is the experiment id, else the config module's file name without extension.
    They go to ``output_dir``, else ``$OUTPUT_DIR/<name>``.

    Returns:
        ``(ModelProfile, markdown path, JSON path)``.

    Raises:
        LmnetError: neither an experiment nor a config is given, or one of them is invalid.
    """
    if experiment_id is None and config_file is None:
        raise ProfileError("give an experiment (-i) or a config file (-c)")
    if experiment_id is not None:
        opened = experiment.open_experiment(environment, experiment_id, config_file, restore_path,
                                            classes=config_classes, require_checkpoint=False, overrides=overrides)
        name = experiment_id
    else:
        config = config_module.load(config_file, overrides=overrides)
        name = os.path.splitext(os.path.basename(config_file))[0]
        opened = experiment.open_config(config, environment.data_dir, restore_path, classes=config_classes)
    profile = profile_opened(opened, name, unquant_layers)
    md_path, json_path = write_profile(profile, output_dir or os.path.join(environment.output_dir, name))
    return profile, md_path, json_path
