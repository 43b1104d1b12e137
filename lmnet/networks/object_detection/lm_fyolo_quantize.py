"""LMFYoloQuantize: LMFYolo with quantized weights and activations."""
from lmnet.networks.object_detection.lm_fyolo import LMFYolo


class LMFYoloQuantize(LMFYolo):
    """:class:`LMFYolo` with the activation quantizer in place of every leaky ReLU and the weight
    quantizer on every kernel; ``QUANTIZE_FIRST_CONVOLUTION`` (default true) covers ``block_1``'s kernel, and while
    ``output`` stays float (``QUANTIZE_LAST_CONVOLUTION``, default false) ``block_13`` keeps its leaky ReLU.
    """

    quantized = True
