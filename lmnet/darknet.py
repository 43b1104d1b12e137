"""Converting Darknet ``.weights`` files into lmnet checkpoints (``executor/convert_weight_from_darknet.py``).

**The Darknet weight file** is little-endian binary:

1. header: three ``int32`` ``major``, ``minor``, ``revision``, then ``seen`` (images seen in
   training), an ``int64`` when ``major * 10 + minor >= 2`` and ``major < 1000`` and ``minor < 1000``,
   else an ``int32`` (so the header is 20 or 16 bytes; the two ``< 1000`` checks only reject
   nonsense values, as Darknet itself does);
2. then, for every convolution in the order of the network's ``.cfg`` file, ``float32`` arrays:
   ``biases [out]``; when the layer has batch normalization ``scales [out]``,
   ``rolling_mean [out]``, ``rolling_variance [out]``; then ``weights [out, in, h, w]``.

The file holds nothing else, so its size must be exactly the header plus the floats the network
expects; anything else is a :class:`DarknetWeightsError` saying how many floats were expected and
found.

**Mapping onto our layers.** Every Darknet convolution maps onto the Keras convolution of the same
rank in the file (see :data:`MODELS` for the order) and, with batch normalization, its
``<name>_bn`` layer:

* weights ``[out, in, h, w]`` → ``<name>/kernel`` ``[h, w, in, out]`` (transposed);
* with batch normalization: biases → ``<name>_bn/beta``, scales → ``<name>_bn/gamma``,
  rolling_mean → ``<name>_bn/moving_mean``, rolling_variance → ``<name>_bn/moving_variance``;
* without batch normalization (only the last convolution: the classifier or the detection head):
  biases → ``<name>/bias``;
* YOLOv2's detection head (``output``): its output channels reordered from Darknet's region layout
  (``tx, ty, tw, th, to, classes…`` per anchor) to lmnet's (:func:`lmnet.yolo_output.darknet_permutation`).

Two known differences remain (fine-tuning absorbs them): Darknet normalizes with
``sqrt(variance + 1e-6)``, our batch norm with ``epsilon = 1e-3``; and YOLOv2's passthrough uses
``tf.nn.space_to_depth``, whose element order differs from Darknet's ``reorg`` layer, so
``conv22``'s weights on the first 256 input channels (the passthrough) see their inputs in another
order than in Darknet.

The result is written in the format of :mod:`lmnet.checkpoint_io` (variables keyed by
``<layer>/<variable>``), so ``IS_PRETRAIN`` with ``PRETRAIN_DIR`` / ``PRETRAIN_FILE`` (and
``PRETRAIN_VARS`` to keep the layers that do not depend on the classes) loads it.
"""
import dataclasses
import os
import struct

import numpy as np

from lmnet.errors import LmnetError

#: Name of the written checkpoint (a prefix: ``save.ckpt.index`` and ``save.ckpt.data-*``).
CHECKPOINT_FILE = "save.ckpt"
#: Bytes of ``major``, ``minor`` and ``revision``.
VERSION_BYTES = 12


class DarknetWeightsError(LmnetError):
    """A Darknet weight file is truncated, too long, or does not fit the chosen network."""


@dataclasses.dataclass(frozen=True)
class DarknetModel:
    """A network whose Darknet weights can be converted.

    Attributes:
        name: the ``-m`` value.
        description: the Darknet network and weight file it corresponds to.
        network: ``"darknet19"`` or ``"yolov2"`` (see :func:`build_network`).
        num_classes: classes of the published weights.
        conv_layers: the Keras convolution names in the order of the Darknet weight file.
        pretrain_vars: ``PRETRAIN_VARS`` patterns selecting every converted variable that does not
            depend on the number of classes (all but the last convolution).
        default_input: the published weight file, as downloaded into ``inputs/``.
        default_output: folder under ``$OUTPUT_DIR`` receiving the checkpoint.
        num_anchors: anchors of a detection head (its last convolution is a Darknet region layer
            whose channels are reordered), or 0 for a classifier.
    """

    name: str
    description: str
    network: str
    num_classes: int
    conv_layers: tuple
    pretrain_vars: tuple
    default_input: str
    default_output: str
    num_anchors: int = 0


#: The convertible networks by ``-m`` name.
MODELS = {
    "darknet19": DarknetModel(
        name="darknet19", description="Darknet-19 ImageNet classifier (darknet19.cfg, darknet19_448.cfg)",
        network="darknet19", num_classes=1000, conv_layers=tuple(f"conv{i}" for i in range(1, 20)),
        pretrain_vars=("conv?/*", "conv?_bn/*", "conv1[0-8]/*", "conv1[0-8]_bn/*"),
        default_input=os.path.join("inputs", "darknet19_448.weights"),
        default_output=os.path.join("convert_weight_from_darknet", "darknet19", "checkpoints")),
    "yolov2": DarknetModel(
        name="yolov2", description="YOLOv2 on PASCAL VOC, 20 classes, 5 anchors (yolo-voc.cfg)",
        network="yolov2", num_classes=20, conv_layers=tuple(f"conv{i}" for i in range(1, 23)) + ("output",),
        pretrain_vars=("conv*",),
        default_input=os.path.join("inputs", "yolo-voc.weights"),
        default_output=os.path.join("convert_weight_from_darknet", "yolo_v2", "checkpoints"), num_anchors=5),
}


@dataclasses.dataclass(frozen=True)
class DarknetHeader:
    """The header of a weight file.

    Attributes:
        major, minor, revision: the format version.
        seen: images seen in training.
        size: header size in bytes (16 or 20).
    """

    major: int
    minor: int
    revision: int
    seen: int
    size: int


@dataclasses.dataclass(frozen=True)
class ConvSpec:
    """What a Darknet convolution stores, read from the Keras layers.

    Attributes:
        name: the Keras convolution's name.
        filters: output channels.
        channels: input channels.
        kernel_size: ``(h, w)``.
        batch_norm: whether a ``<name>_bn`` layer follows (else the convolution has a bias).
    """

    name: str
    filters: int
    channels: int
    kernel_size: tuple
    batch_norm: bool

    @property
    def num_floats(self):
        """Floats of this layer in the file: biases, the three batch-norm arrays if any, weights."""
        per_channel = 4 if self.batch_norm else 1
        return self.filters * (per_channel + self.channels * self.kernel_size[0] * self.kernel_size[1])


def seen_is_int64(major, minor):
    """Whether ``seen`` is an ``int64`` (else ``int32``).

    True when ``major * 10 + minor >= 2`` and ``major < 1000`` and ``minor < 1000``.
    """
    return major * 10 + minor >= 2 and major < 1000 and minor < 1000


def read_header(data, source="weights"):
    """Parses the header at the start of ``data`` (bytes).

    Raises:
        DarknetWeightsError: the data ends inside the header.
    """
    if len(data) < VERSION_BYTES:
        raise DarknetWeightsError(f"{source}: truncated header: {len(data)} bytes, the version alone needs "
                                  f"{VERSION_BYTES} (int32 major, minor, revision)")
    major, minor, revision = struct.unpack_from("<3i", data, 0)
    wide = seen_is_int64(major, minor)
    size = VERSION_BYTES + (8 if wide else 4)
    if len(data) < size:
        raise DarknetWeightsError(f"{source}: truncated header: {len(data)} bytes, version {major}.{minor}."
                                  f"{revision} needs {size} (seen is {'int64' if wide else 'int32'})")
    (seen,) = struct.unpack_from("<q" if wide else "<i", data, VERSION_BYTES)
    return DarknetHeader(major, minor, revision, seen, size)


def build_network(model):
    """Builds the lmnet network of a :class:`DarknetModel` at a small input size (weights do not depend on it).

    Returns:
        The network object (its ``model`` is the Keras model).
    """
    classes = [f"class_{i}" for i in range(model.num_classes)]
    if model.network == "darknet19":
        from lmnet.networks.classification.darknet19 import Darknet19
        return Darknet19(classes=classes, image_size=(32, 32))
    from lmnet.networks.object_detection.yolo_v2 import YoloV2
    return YoloV2(classes=classes, image_size=(64, 64))


def conv_specs(keras_model, conv_layers):
    """The :class:`ConvSpec` of each named convolution of ``keras_model``, in the given (file) order."""
    names = {layer.name for layer in keras_model.layers}
    specs = []
    for name in conv_layers:
        kernel = keras_model.get_layer(name).kernel
        height, width, channels, filters = (int(v) for v in kernel.shape)
        specs.append(ConvSpec(name, filters, channels, (height, width), f"{name}_bn" in names))
    return specs


def read_floats(data, header, specs, source="weights"):
    """The ``float32`` values after the header, checked against the floats ``specs`` expect.

    Raises:
        DarknetWeightsError: the file holds more or fewer floats than expected.
    """
    expected = sum(spec.num_floats for spec in specs)
    body = len(data) - header.size
    found = body // 4
    if body % 4 or found != expected:
        extra = f" and {body % 4} stray bytes" if body % 4 else ""
        kind = "too short" if found < expected else "too long"
        raise DarknetWeightsError(f"{source}: size mismatch: expected {expected} floats after the {header.size}-byte "
                                  f"header, found {found}{extra} (file {kind} for this network)")
    return np.frombuffer(data, dtype="<f4", count=expected, offset=header.size).astype(np.float32)


def split_layers(floats, specs):
    """Cuts the flat floats into ``{"<layer>/<variable>": array}`` in Keras layout (see the module table)."""
    values, offset = {}, 0

    def take(count):
        nonlocal offset
        chunk = floats[offset:offset + count]
        offset += count
        return chunk

    for spec in specs:
        biases = take(spec.filters)
        if spec.batch_norm:
            values[f"{spec.name}_bn/beta"] = biases
            values[f"{spec.name}_bn/gamma"] = take(spec.filters)
            values[f"{spec.name}_bn/moving_mean"] = take(spec.filters)
            values[f"{spec.name}_bn/moving_variance"] = take(spec.filters)
        else:
            values[f"{spec.name}/bias"] = biases
        weights = take(spec.filters * spec.channels * spec.kernel_size[0] * spec.kernel_size[1])
        weights = weights.reshape(spec.filters, spec.channels, *spec.kernel_size)
        values[f"{spec.name}/kernel"] = np.ascontiguousarray(weights.transpose(2, 3, 1, 0))
    return values


def load_darknet_weights(keras_model, conv_layers, path):
    """Reads a Darknet weight file for the named convolutions of ``keras_model`` (in file order).

    Returns:
        ``(DarknetHeader, {"<layer>/<variable>": numpy array})``.

    Raises:
        DarknetWeightsError: missing file, truncated header or size mismatch.
    """
    if not os.path.isfile(path):
        raise DarknetWeightsError(f"weight file {path} not found")
    with open(path, "rb") as stream:
        data = stream.read()
    header = read_header(data, path)
    specs = conv_specs(keras_model, conv_layers)
    return header, split_layers(read_floats(data, header, specs, path), specs)


def assign_weights(keras_model, values, complete=False):
    """Assigns ``{"<layer>/<variable>": array}`` to the model's variables.

    Args:
        keras_model: the Keras model.
        values: the arrays by ``<layer>/<variable>``.
        complete: also require a value for every variable of the model.

    Raises:
        DarknetWeightsError: a key is not a variable of the model, shapes differ, or (``complete``)
            a variable gets no value.
    """
    from lmnet.checkpoint_io import weight_map
    weights = weight_map(keras_model)
    unset = [key for key in weights if key not in values]
    if complete and unset:
        raise DarknetWeightsError(f"the weight file sets no value for {', '.join(unset[:5])}")
    for key, value in values.items():
        if key not in weights:
            raise DarknetWeightsError(f"the network has no variable {key}")
        if tuple(weights[key].shape) != value.shape:
            raise DarknetWeightsError(f"{key}: shape {value.shape} does not fit the network's "
                                      f"{tuple(weights[key].shape)}")
        weights[key].assign(value)


def write_checkpoint(keras_model, output_dir, name=CHECKPOINT_FILE):
    """Writes every variable of ``keras_model`` as checkpoint ``<output_dir>/<name>`` (lmnet's format); returns it."""
    import tensorflow as tf

    from lmnet.checkpoint_io import weight_map
    os.makedirs(output_dir, exist_ok=True)
    prefix = os.path.join(output_dir, name)
    return tf.train.Checkpoint(weights=weight_map(keras_model)).write(prefix)


@dataclasses.dataclass
class ConversionResult:
    """What :func:`convert` did.

    Attributes:
        model: the :class:`DarknetModel`.
        checkpoint: the written checkpoint prefix.
        header: the file's :class:`DarknetHeader`.
        num_floats: floats read.
        variables: the assigned ``<layer>/<variable>`` names.
    """

    model: DarknetModel
    checkpoint: str
    header: DarknetHeader
    num_floats: int
    variables: list

    def config_lines(self):
        """The config lines that start training from the checkpoint."""
        directory, name = os.path.split(self.checkpoint)
        return ["IS_PRETRAIN = True", f"PRETRAIN_DIR = {directory!r}", f"PRETRAIN_FILE = {name!r}",
                f"PRETRAIN_VARS = {list(self.model.pretrain_vars)!r}"]


def reorder_region_layer(values, model):
    """``values`` with the detection head's output channels in lmnet's per-anchor order (classifiers: unchanged).

    Args:
        values: ``{"<layer>/<variable>": array}`` as read from the file.
        model: the :class:`DarknetModel`.

    Returns:
        A new dict; the last convolution's ``kernel`` (last axis) and ``bias`` permuted by
        :func:`lmnet.yolo_output.darknet_permutation`.
    """
    if not model.num_anchors:
        return values
    from lmnet.yolo_output import darknet_permutation
    head = model.conv_layers[-1]
    order = darknet_permutation(model.num_anchors, model.num_classes)
    result = dict(values)
    result[f"{head}/kernel"] = np.ascontiguousarray(values[f"{head}/kernel"][..., order])
    result[f"{head}/bias"] = values[f"{head}/bias"][order]
    return result


def get_model(name):
    """The :class:`DarknetModel` named ``name``.

    Raises:
        DarknetWeightsError: unknown name.
    """
    if name not in MODELS:
        raise DarknetWeightsError(f"unknown model '{name}'; choose one of {', '.join(MODELS)}")
    return MODELS[name]


def convert(model_name, input_path, output_dir):
    """Converts a Darknet weight file into an lmnet checkpoint ``<output_dir>/save.ckpt``.

    Args:
        model_name: ``"darknet19"`` or ``"yolov2"``.
        input_path: the ``.weights`` file.
        output_dir: folder of the checkpoint (created).

    Returns:
        A :class:`ConversionResult`.

    Raises:
        DarknetWeightsError: unknown model, missing file, truncated header or size mismatch.
    """
    model = get_model(model_name)
    if not os.path.isfile(input_path):
        raise DarknetWeightsError(f"weight file {input_path} not found")
    keras_model = build_network(model).model
    header, values = load_darknet_weights(keras_model, model.conv_layers, input_path)
    values = reorder_region_layer(values, model)
    assign_weights(keras_model, values, complete=True)
    checkpoint = write_checkpoint(keras_model, output_dir)
    return ConversionResult(model=model, checkpoint=checkpoint, header=header,
                            num_floats=sum(value.size for value in values.values()), variables=list(values))
