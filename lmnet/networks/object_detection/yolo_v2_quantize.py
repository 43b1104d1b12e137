"""YoloV2Quantize: YoloV2 with quantized weights and activations."""
from lmnet.networks.object_detection.yolo_v2 import YoloV2


class YoloV2Quantize(YoloV2):
    """:class:`YoloV2` with the activation quantizer in place of every leaky ReLU and the weight
    quantizer on every kernel.

    ``QUANTIZE_FIRST_CONVOLUTION`` (default true) decides ``conv1``'s kernel and
    ``QUANTIZE_LAST_CONVOLUTION`` (default false) the kernel of ``output``; while ``output`` stays
    float, ``conv22`` keeps its leaky ReLU.
    """

    quantized = True
    default_quantize_first_convolution = True
    default_quantize_last_convolution = False
