"""Darknet19: the published Darknet-19 classifier (float), the backbone of YOLOv2."""
import keras

from lmnet.layers import darknet_block
from lmnet.networks.classification.base import ClassificationNetwork

# The darknet blocks as (filters, kernel size); "M" is a 2x2 max pooling with stride 2.
DARKNET19_LAYERS = (
    (32, 3), "M",
    (64, 3), "M",
    (128, 3), (64, 1), (128, 3), "M",
    (256, 3), (128, 1), (256, 3), "M",
    (512, 3), (256, 1), (512, 3), (256, 1), (512, 3), "M",
    (1024, 3), (512, 1), (1024, 3), (512, 1), (1024, 3),
)


class Darknet19(ClassificationNetwork):
    """Darknet-19 (Redmon and Farhadi, YOLO9000): 18 darknet blocks and five max poolings, then
    ``conv19`` num_classes@1x1 with bias and a global average pool.

    A darknet block is conv (no bias) -> batch norm -> leaky ReLU (0.1). The convolutions are named
    ``conv1`` ... ``conv19`` in the order of the Darknet weight file, the poolings ``max_pool1`` ...
    ``max_pool5``. Height and width must be multiples of 32.
    """

    size_divisor = 32

    def build_logits(self, inputs):
        """Returns the logits of Darknet-19."""
        x = inputs
        conv_index, pool_index = 0, 0
        for spec in DARKNET19_LAYERS:
            if spec == "M":
                pool_index += 1
                x = keras.layers.MaxPooling2D(2, strides=2, name=f"max_pool{pool_index}")(x)
            else:
                conv_index += 1
                filters, kernel_size = spec
                x = darknet_block(x, filters, kernel_size, f"conv{conv_index}")
        x = keras.layers.Conv2D(self.num_classes, 1, use_bias=True, name=f"conv{conv_index + 1}")(x)
        return keras.layers.GlobalAveragePooling2D(name="pool")(x)
