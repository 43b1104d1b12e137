"""LmnetV0: the first, max-pooling classifier of lmnet (float)."""
import keras

from lmnet.layers import BatchSplitInvariantDropout, QuantizedConv2D, lmnet_block
from lmnet.networks.classification.base import ClassificationNetwork


class LmnetV0(ClassificationNetwork):
    """conv1 32@3x3 -> pool -> conv2 64@3x3 -> pool -> conv3 128@3x3 -> pool -> conv4 256@3x3 -> pool
    -> conv5 256@3x3 -> pool -> conv6 64@1x1 (ReLU) -> dropout -> conv7 num_classes@1x1 with bias
    -> global average pool.

    Every pool is a 2x2 max pooling with stride 2, so height and width must be multiples of 32. In
    :class:`LmnetV0Quantize` the activation quantizer is the activation of conv1-conv5 and the weight
    quantizer applies to conv1-conv6 (conv1 per ``QUANTIZE_FIRST_CONVOLUTION``, conv7 per
    ``QUANTIZE_LAST_CONVOLUTION``).
    """

    size_divisor = 32
    dropout_rate = 0.5
    block_filters = (32, 64, 128, 256, 256)

    def build_logits(self, inputs):
        """Returns the logits of the lmnet V0 stack."""
        x = inputs
        for index, filters in enumerate(self.block_filters, start=1):
            weights = self.first_weight_quantizer() if index == 1 else self.weight_quantizer
            x = lmnet_block(x, filters, 3, f"conv{index}", weight_quantizer=weights,
                            activation_quantizer=self.activation_quantizer)
            x = keras.layers.MaxPooling2D(2, strides=2, name=f"max_pool{index}")(x)
        x = lmnet_block(x, 64, 1, "conv6", weight_quantizer=self.weight_quantizer)
        x = BatchSplitInvariantDropout(self.dropout_rate, name="dropout")(x)
        q_name, q_kwargs = self.last_weight_quantizer() or (None, None)
        x = QuantizedConv2D(self.num_classes, 1, use_bias=True, weight_quantizer=q_name,
                            weight_quantizer_kwargs=q_kwargs, name="conv7")(x)
        return keras.layers.GlobalAveragePooling2D(name="pool")(x)
