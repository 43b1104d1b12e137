"""Keras layers of lmnet: quantized convolution and activation, space-to-depth, dropout, blocks."""
from lmnet.layers.blocks import conv_block, darknet_block, lmnet_block
from lmnet.layers.dropout import BatchSplitInvariantDropout
from lmnet.layers.quantized import QuantizedActivation, QuantizedConv2D, SharedRange
from lmnet.layers.space_to_depth import SpaceToDepth

__all__ = ["BatchSplitInvariantDropout", "QuantizedActivation", "QuantizedConv2D", "SharedRange", "SpaceToDepth",
           "conv_block", "darknet_block", "lmnet_block"]
