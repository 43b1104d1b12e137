"""LmnetV1: the small classifier of lmnet (float)."""
import keras

from lmnet.layers import BatchSplitInvariantDropout, QuantizedConv2D, SpaceToDepth, lmnet_block
from lmnet.networks.classification.base import ClassificationNetwork


class LmnetV1(ClassificationNetwork):
    """conv1 32@3x3 -> conv2 64@3x3 -> s2d -> conv3 128@3x3 -> conv4 64@3x3 -> s2d -> conv5 128@3x3
    -> s2d -> conv6 64@1x1 (ReLU) -> dropout -> conv7 num_classes@1x1 with bias -> global average pool.

    Height and width must be multiples of 8. In :class:`LmnetV1Quantize` the activation quantizer is
    the activation of conv1-conv5 and the weight quantizer applies to conv1-conv6 (conv1 per
    ``QUANTIZE_FIRST_CONVOLUTION``, conv7 per ``QUANTIZE_LAST_CONVOLUTION``).
    """

    size_divisor = 8
    dropout_rate = 0.5

    def build_logits(self, inputs):
        """Returns the logits of the lmnet V1 stack."""
        weights, activations = self.weight_quantizer, self.activation_quantizer
        x = lmnet_block(inputs, 32, 3, "conv1", weight_quantizer=self.first_weight_quantizer(),
                        activation_quantizer=activations)
        x = lmnet_block(x, 64, 3, "conv2", weight_quantizer=weights, activation_quantizer=activations)
        x = SpaceToDepth(2, name="s2d_1")(x)
        x = lmnet_block(x, 128, 3, "conv3", weight_quantizer=weights, activation_quantizer=activations)
        x = lmnet_block(x, 64, 3, "conv4", weight_quantizer=weights, activation_quantizer=activations)
        x = SpaceToDepth(2, name="s2d_2")(x)
        x = lmnet_block(x, 128, 3, "conv5", weight_quantizer=weights, activation_quantizer=activations)
        x = SpaceToDepth(2, name="s2d_3")(x)
        x = lmnet_block(x, 64, 1, "conv6", weight_quantizer=weights)
        x = BatchSplitInvariantDropout(self.dropout_rate, name="dropout")(x)
        q_name, q_kwargs = self.last_weight_quantizer() or (None, None)
        x = QuantizedConv2D(self.num_classes, 1, use_bias=True, weight_quantizer=q_name,
                            weight_quantizer_kwargs=q_kwargs, name="conv7")(x)
        return keras.layers.GlobalAveragePooling2D(name="pool")(x)
