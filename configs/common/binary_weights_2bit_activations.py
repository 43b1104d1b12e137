"""Shared piece: binary channel-wise weights and 2-bit activations (max 2.0), the first convolution quantized and
the last one float, as the hardware converters expect. Name it in a config's ``BASE`` after the base config."""
from lmnet.config import SmartDict
from lmnet.quantizations import binary_channel_wise_mean_scaling, linear_mid_tread_half

NETWORK = SmartDict()
NETWORK.ACTIVATION_QUANTIZER = linear_mid_tread_half
NETWORK.ACTIVATION_QUANTIZER_KWARGS = {"bit": 2, "max_value": 2.0}
NETWORK.WEIGHT_QUANTIZER = binary_channel_wise_mean_scaling
NETWORK.WEIGHT_QUANTIZER_KWARGS = {}
NETWORK.QUANTIZE_FIRST_CONVOLUTION = True
NETWORK.QUANTIZE_LAST_CONVOLUTION = False
