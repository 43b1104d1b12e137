"""LMFYoloQuantize: LMFYolo with quantized weights and activations."""
from lmnet.networks.object_detection.lm_fyolo import LMFYolo


class LMFYoloQuantize(LMFYolo):
    """:class:`LMFYolo` with the activation quantizer in place of every leaky ReLU and the weight
    quantizer on every kernel.

    ``QUANTIZE_FIRST_CONVOLUTION`` (default true) decides ``block_1``'s kernel and
    ``QUANTIZE_LAST_CONVOLUTION`` (default false) the kernel of ``output``; while ``output`` stays
    float, ``block_13`` keeps its leaky ReLU.
    """

    quantized = True
    default_quantize_first_convolution = True
    default_quantize_last_convolution = False
