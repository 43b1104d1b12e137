"""YoloV2: the published YOLOv2 detector (Darknet-19 backbone with the passthrough layer), float."""
import keras

from lmnet.layers import SharedRange, SpaceToDepth
from lmnet.networks.classification.darknet19 import DARKNET19_LAYERS
from lmnet.networks.object_detection.base import YoloBase

#: The backbone convolution whose output (stride 16, 512 channels) feeds the passthrough.
PASSTHROUGH_SOURCE = 13


class YoloV2(YoloBase):
    """YOLOv2 (Redmon and Farhadi, YOLO9000).

    The Darknet-19 backbone without its classifier (darknet blocks ``conv1`` ... ``conv18`` and
    max poolings ``max_pool1`` ... ``max_pool5``, as :class:`Darknet19`), then ``conv19`` and
    ``conv20`` 1024@3x3. The passthrough takes ``conv13``'s output (stride 16, 512 channels):
    ``conv21`` 64@1x1 -> ``passthrough_s2d`` (x2, 256 channels at stride 32). ``concat``
    [passthrough, conv20] (1280 channels) -> ``conv22`` 1024@3x3 -> ``output`` (C + 5) * A @1x1 with
    bias (per anchor in upstream Blueoil's order, :mod:`lmnet.yolo_output`). Convolutions are
    numbered in the order of the Darknet ``yolo-voc`` weight file (its last convolution is ``output``,
    whose channels the converter reorders from Darknet's region layout). The passthrough is
    ``tf.nn.space_to_depth``, whose channel order differs from Darknet's ``reorg`` layer.

    In :class:`YoloV2Quantize` the activation quantizer replaces every leaky ReLU (but ``conv22``'s
    when the last convolution stays float) and the weight quantizer applies to every kernel
    (``conv1``'s per ``QUANTIZE_FIRST_CONVOLUTION``, ``output``'s per ``QUANTIZE_LAST_CONVOLUTION``).
    """

    def build_features(self, inputs):
        """Returns the output of ``conv22``."""
        x, passthrough_source = self._backbone(inputs)
        x = self.block(x, 1024, 3, "conv19")
        joined = SharedRange()  # the concatenated activations share their learned range (PACT, LSQ)
        x = self.block(x, 1024, 3, "conv20", shared_range=joined)
        passthrough = self.block(passthrough_source, 64, 1, "conv21", shared_range=joined)
        passthrough = SpaceToDepth(2, name="passthrough_s2d")(passthrough)
        x = keras.layers.Concatenate(axis=-1, name="concat")([passthrough, x])
        return self.block(x, 1024, 3, "conv22", activation_quantizer=self.before_last_activation())

    def _backbone(self, inputs):
        """Darknet-19 up to ``conv18``; returns its output and ``conv13``'s."""
        x, passthrough_source = inputs, None
        conv_index, pool_index = 0, 0
        for spec in DARKNET19_LAYERS:
            if spec == "M":
                pool_index += 1
                x = keras.layers.MaxPooling2D(2, strides=2, name=f"max_pool{pool_index}")(x)
                continue
            conv_index += 1
            filters, kernel_size = spec
            weight_quantizer = self.first_weight_quantizer() if conv_index == 1 else self.weight_quantizer
            x = self.block(x, filters, kernel_size, f"conv{conv_index}", weight_quantizer=weight_quantizer)
            if conv_index == PASSTHROUGH_SOURCE:
                passthrough_source = x
        return x, passthrough_source
