"""The layer settings every exported form needs to read the same way (frozen graph, QONNX)."""
import keras
import numpy as np

from lmnet.errors import LmnetError


def check_last_axis(layer, rank, what):
    """Raises unless ``layer.axis`` is the last axis of a tensor of ``rank`` (channels last).

    Raises:
        LmnetError: names the layer, ``what`` it does and the axis it has.
    """
    if list(np.atleast_1d(layer.axis)) not in ([-1], [rank - 1]):
        raise LmnetError(f"export: layer {layer.name}: {what} over axis {layer.axis}")


def check_plain_convolution(layer):
    """Raises unless the convolution is ungrouped and channels-last.

    Raises:
        LmnetError: names the layer.
    """
    if layer.groups != 1 or layer.data_format != "channels_last":
        raise LmnetError(f"export: layer {layer.name}: only NHWC, ungrouped convolutions")


def activation_name(layer):
    """The built-in activation of a convolution or dense layer: ``"linear"`` or ``"relu"``.

    Raises:
        LmnetError: another activation (names the layer and the activation).
    """
    name = keras.activations.serialize(layer.activation)
    name = name if isinstance(name, str) else name.get("config", name)
    name = "linear" if name is None else name
    if name not in ("linear", "relu"):
        raise LmnetError(f"export: layer {layer.name}: activation {name}")
    return name


def check_plain_relu(layer):
    """Raises unless the ReLU layer has no max value, slope or threshold.

    Raises:
        LmnetError: names the layer.
    """
    if layer.max_value is not None or layer.negative_slope or layer.threshold:
        raise LmnetError(f"export: layer {layer.name}: ReLU with max_value/negative_slope/threshold")


def same_padding(size, kernel_size, strides, dilations=None):
    """TensorFlow's ``SAME`` padding of a window over ``size``: ``(before, after)`` per spatial axis.

    The output has ``ceil(size / stride)`` positions; an odd total padding puts the extra pixel after
    (bottom, right).
    """
    dilations = dilations or [1] * len(size)
    padding = []
    for length, kernel, stride, dilation in zip(size, kernel_size, strides, dilations):
        positions = -(-int(length) // int(stride))
        total = max((positions - 1) * stride + (kernel - 1) * dilation + 1 - int(length), 0)
        padding.append((total // 2, total - total // 2))
    return padding
