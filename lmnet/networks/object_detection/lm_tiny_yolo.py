"""LMTinyYolo: a small YOLOv2-style detector with output stride 16 and max-pool down-sampling (float)."""
import keras

from lmnet.errors import ConfigError
from lmnet.layers import SharedRange, SpaceToDepth
from lmnet.networks.object_detection.base import YoloBase

#: The backbone blocks, as (block name, name of the 2x2 max pooling after it, filters); all 3x3.
BACKBONE_BLOCKS = (("block_1", "pool_1", 16), ("block_2", "pool_2", 32), ("block_3", "pool_3", 64),
                   ("block_4", "pool_4", 128))
#: ``STEM`` choices: how the image reaches ``block_2`` at half its size.
STEMS = ("convolution", "space_to_depth")


class LMTinyYolo(YoloBase):
    """Darknet blocks (conv -> batch norm -> leaky ReLU 0.1) with 2x2 max pooling, predicting on a grid of
    stride 16 (8x8 cells at 128x128).

    ``block_1`` 16 -> ``pool_1`` -> ``block_2`` 32 -> ``pool_2`` -> ``block_3`` 64 -> ``pool_3`` ->
    ``block_4`` 128 (=x4, stride 8) -> ``pool_4`` -> ``block_5`` 256 (stride 16), all 3x3. A side path
    brings x4 to stride 16: ``side_4`` 32@1x1 -> ``side_4_s2d`` (space-to-depth of block 2, 128 ch).
    ``concat`` [block_5, side] (384 ch) -> ``block_6`` 256@3x3 -> ``output`` (C + 5) * A @1x1 with bias,
    laid out as :mod:`lmnet.yolo_output` describes. About 0.27 GFLOPs at 128x128 (LMFYolo: 0.37).

    With ``stem="space_to_depth"`` the image enters as ``stem_s2d`` (space-to-depth of block 2: 12 channels
    at half the size) straight into ``block_2``, which is then the first convolution; ``block_1`` and
    ``pool_1``, a third of the cost, are gone (about 0.17 GFLOPs at 128x128; a training step costs about
    40 % less CPU).

    Why another detector: LMFYolo predicts on a stride-32 grid (4x4 cells at 128x128) and down-samples
    only by space-to-depth, which gives it no invariance to where an object sits inside a cell; on the
    embedded shapes set it needs thousands of steps to tell the classes apart (docs/detection.rst).
    Max pooling and a finer grid learn far faster at a lower cost. Every layer is in the hardware
    converters' operator list (convolution, batch norm, the quantizers, max pooling, space-to-depth,
    concatenation). In :class:`LMTinyYoloQuantize` the activation quantizer replaces every leaky ReLU
    (but ``block_6``'s when the last convolution stays float) and the weight quantizer applies to
    every kernel (the first convolution's per ``QUANTIZE_FIRST_CONVOLUTION``, ``output``'s per
    ``QUANTIZE_LAST_CONVOLUTION``).

    Args:
        stem: ``"convolution"`` (``block_1`` and ``pool_1`` at full resolution) or ``"space_to_depth"``.
        **kwargs: the :class:`lmnet.networks.object_detection.base.YoloBase` arguments.
    """

    size_divisor = 16

    def __init__(self, classes, image_size, stem="convolution", **kwargs):
        if stem not in STEMS:
            raise ConfigError(f"NETWORK.STEM: expected one of {', '.join(map(repr, STEMS))}, got {stem!r}")
        self.stem = stem
        super().__init__(classes, image_size, **kwargs)

    def build_features(self, inputs):
        """Returns the output of ``block_6``."""
        blocks = BACKBONE_BLOCKS
        x = inputs
        if self.stem == "space_to_depth":
            blocks = blocks[1:]
            x = SpaceToDepth(2, name="stem_s2d")(x)
        for index, (name, pool_name, filters) in enumerate(blocks):
            quantizer = {"weight_quantizer": self.first_weight_quantizer()} if index == 0 else {}
            x = self.block(x, filters, 3, name, **quantizer)
            if index == len(blocks) - 1:
                x4 = x
            x = keras.layers.MaxPooling2D(2, strides=2, name=pool_name)(x)
        joined = SharedRange()  # the concatenated activations share their learned range (PACT, LSQ)
        x5 = self.block(x, 256, 3, "block_5", shared_range=joined)
        side = SpaceToDepth(2, name="side_4_s2d")(self.block(x4, 32, 1, "side_4", shared_range=joined))
        x = keras.layers.Concatenate(axis=-1, name="concat")([x5, side])
        return self.block(x, 256, 3, "block_6", activation_quantizer=self.before_last_activation())
