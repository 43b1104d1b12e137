"""YoloV2Quantize: YoloV2 with quantized weights and activations."""
from lmnet.networks.object_detection.yolo_v2 import YoloV2


class YoloV2Quantize(YoloV2):
    """:class:`YoloV2` with the activation quantizer in place of every leaky ReLU and the weight
    quantizer on every kernel; ``QUANTIZE_FIRST_CONVOLUTION`` (default true) covers ``conv1``'s kernel, and while
    ``output`` stays float (``QUANTIZE_LAST_CONVOLUTION``, default false) ``conv22`` keeps its leaky ReLU.
    """

    quantized = True
