"""LmnetV1Quantize: LmnetV1 with quantized weights and activations."""
from lmnet.networks.classification.lmnet_v1 import LmnetV1


class LmnetV1Quantize(LmnetV1):
    """:class:`LmnetV1` with the activation quantizer on conv1-conv5 and the weight quantizer on
    conv1-conv6; conv7 stays float unless ``QUANTIZE_LAST_CONVOLUTION`` is true."""

    quantized = True
