"""LMFYolo: the small, fast YOLOv2-style detector of lmnet (float)."""
import keras

from lmnet.layers import SharedRange, SpaceToDepth
from lmnet.networks.object_detection.base import YoloBase

#: The five head blocks after the concatenation, as (name, filters); all 3x3.
HEAD_BLOCKS = (("block_9", 256), ("block_10", 128), ("block_11", 256), ("block_12", 128), ("block_13", 256))


class LMFYolo(YoloBase):
    """Darknet blocks (conv -> batch norm -> leaky ReLU 0.1) with space-to-depth down-sampling.

    ``block_1`` 32@1x1 -> ``block_2`` 8@3x3 -> s2d -> ``block_3`` 16@3x3 -> s2d -> ``block_4`` 32@3x3
    (x4) -> s2d -> ``block_5`` 64@3x3 (x5) -> s2d -> ``block_6`` 128@3x3 (x6) -> s2d -> ``block_7``
    128@3x3 -> ``block_8`` 256@3x3. Side paths bring the earlier features to stride 32:
    x4 -> ``side_4`` 4@1x1 -> ``side_4_s2d`` block 8 (256 ch), x5 -> ``side_5`` 16@1x1 ->
    ``side_5_s2d`` block 4 (256 ch), x6 -> ``side_6`` 32@1x1 -> ``side_6_s2d`` block 2 (128 ch).
    ``concat`` [block_8, block_7, side 6, side 5, side 4] (1024 ch) -> ``block_9`` 256 -> ``block_10``
    128 -> ``block_11`` 256 -> ``block_12`` 128 -> ``block_13`` 256 (all 3x3) -> ``output``
    (C + 5) * A @1x1 with bias, laid out as :mod:`lmnet.yolo_output` describes.

    Each side path ends in ONE space-to-depth op of block 8, 4 or 2, as upstream Blueoil's LMFYolo: a
    chain of block-2 ops orders the channels differently and leaves 16-channel packed tensors,
    which Blueoil's converter runtime places wrongly (it packs 2-bit activations in whole 32-channel
    words). In :class:`LMFYoloQuantize` the activation quantizer replaces
    every leaky ReLU (but ``block_13``'s when the last convolution stays float), and the weight
    quantizer applies to every kernel (``block_1``'s per ``QUANTIZE_FIRST_CONVOLUTION``,
    ``output``'s per ``QUANTIZE_LAST_CONVOLUTION``).
    """

    def build_features(self, inputs):
        """Returns the output of ``block_13``."""
        x = self.block(inputs, 32, 1, "block_1", weight_quantizer=self.first_weight_quantizer())
        x = self.block(x, 8, 3, "block_2")
        x = SpaceToDepth(2, name="s2d_2")(x)
        x = self.block(x, 16, 3, "block_3")
        x = SpaceToDepth(2, name="s2d_3")(x)
        x4 = self.block(x, 32, 3, "block_4")
        x = SpaceToDepth(2, name="s2d_4")(x4)
        x5 = self.block(x, 64, 3, "block_5")
        x = SpaceToDepth(2, name="s2d_5")(x5)
        x6 = self.block(x, 128, 3, "block_6")
        x = SpaceToDepth(2, name="s2d_6")(x6)
        joined = SharedRange()  # the concatenated activations share their learned range (PACT, LSQ)
        x7 = self.block(x, 128, 3, "block_7", shared_range=joined)
        x8 = self.block(x7, 256, 3, "block_8", shared_range=joined)
        sides = [self._side_path(x6, 32, 2, "side_6", joined), self._side_path(x5, 16, 4, "side_5", joined),
                 self._side_path(x4, 4, 8, "side_4", joined)]
        x = keras.layers.Concatenate(axis=-1, name="concat")([x8, x7, *sides])
        for index, (name, filters) in enumerate(HEAD_BLOCKS):
            last = index == len(HEAD_BLOCKS) - 1
            activation = self.before_last_activation() if last else self.activation_quantizer
            x = self.block(x, filters, 3, name, activation_quantizer=activation)
        return x

    def _side_path(self, x, filters, block_size, name, shared_range):
        """A 1x1 darknet block ``name`` then one space-to-depth of ``block_size`` (``<name>_s2d``)."""
        x = self.block(x, filters, 1, name, shared_range=shared_range)
        return SpaceToDepth(block_size, name=f"{name}_s2d")(x)
