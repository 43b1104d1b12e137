"""VGG16: the published 13-convolution, 3-dense classifier (float)."""
import keras

from lmnet.layers import BatchSplitInvariantDropout
from lmnet.networks.classification.base import ClassificationNetwork

# Output channels of the 3x3 convolutions, one tuple per group; a max pooling follows each group.
VGG16_GROUPS = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))


class VGG16(ClassificationNetwork):
    """VGG-16 (Simonyan and Zisserman, configuration D), sized to the input.

    Five groups of 3x3 convolutions (with bias, 'same', ReLU) named ``conv<group>_<index>``, each
    group followed by a 2x2 max pooling ``pool<group>``; then flatten, ``fc6`` 4096 (ReLU), dropout,
    ``fc7`` 4096 (ReLU), dropout, ``fc8`` num_classes. The flattened size, and so the size of
    ``fc6``, is ``(height / 32) * (width / 32) * 512``; height and width must be multiples of 32.

    As published there is no batch normalization. To keep the network trainable from scratch the
    ReLU layers are He-initialized (the original paper needed staged pre-training instead).
    """

    size_divisor = 32
    dropout_rate = 0.5
    dense_units = 4096

    def build_logits(self, inputs):
        """Returns the logits of VGG-16."""
        x = inputs
        for group, filters_of_group in enumerate(VGG16_GROUPS, start=1):
            x = self._conv_group(x, group, filters_of_group)
        x = keras.layers.Flatten(name="flatten")(x)
        x = self._dense_relu(x, "fc6")
        x = BatchSplitInvariantDropout(self.dropout_rate, name="dropout6")(x)
        x = self._dense_relu(x, "fc7")
        x = BatchSplitInvariantDropout(self.dropout_rate, name="dropout7")(x)
        return keras.layers.Dense(self.num_classes, name="fc8")(x)

    @staticmethod
    def _conv_group(x, group, filters_of_group):
        """Applies one group of 3x3 ReLU convolutions and its max pooling."""
        for index, filters in enumerate(filters_of_group, start=1):
            x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", use_bias=True,
                                    kernel_initializer="he_normal", name=f"conv{group}_{index}")(x)
        return keras.layers.MaxPooling2D(2, strides=2, name=f"pool{group}")(x)

    def _dense_relu(self, x, name):
        """Applies a He-initialized dense layer with ReLU."""
        return keras.layers.Dense(self.dense_units, activation="relu", kernel_initializer="he_normal", name=name)(x)
