"""LmnetV0Quantize: LmnetV0 with quantized weights and activations."""
from lmnet.networks.classification.lmnet_v0 import LmnetV0


class LmnetV0Quantize(LmnetV0):
    """:class:`LmnetV0` with the activation quantizer on conv1-conv5 and the weight quantizer on
    conv1-conv6; conv7 stays float unless ``QUANTIZE_LAST_CONVOLUTION`` is true."""

    quantized = True
