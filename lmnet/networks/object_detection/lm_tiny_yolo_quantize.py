"""LMTinyYoloQuantize: LMTinyYolo with quantized weights and activations."""
from lmnet.networks.object_detection.lm_tiny_yolo import LMTinyYolo


class LMTinyYoloQuantize(LMTinyYolo):
    """:class:`LMTinyYolo` with the activation quantizer in place of every leaky ReLU and the weight
    quantizer on every kernel; ``QUANTIZE_FIRST_CONVOLUTION`` (default true) covers the first kernel (``block_1``'s,
    or ``block_2``'s with ``STEM = "space_to_depth"``), and while ``output`` stays float
    (``QUANTIZE_LAST_CONVOLUTION``, default false) ``block_6`` keeps its leaky ReLU.
    """

    quantized = True
