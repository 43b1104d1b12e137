"""LMFYoloQuantize on Pascalvoc20072012: binary channel-wise weights, 2-bit activations (max 2.0), first conv
quantized, last not; images resized nearest-neighbour as the hardware runtime does. The rest as
lm_fyolo_pascalvoc_2007_2012.py."""
from lmnet.networks.object_detection.lm_fyolo_quantize import LMFYoloQuantize
from lmnet.pre_processor import ResizeWithGtBoxes

BASE = ["lm_fyolo_pascalvoc_2007_2012.py", "../../common/binary_weights_2bit_activations.py"]

NETWORK_CLASS = LMFYoloQuantize
PRE_PROCESSOR = PRE_PROCESSOR.with_params(ResizeWithGtBoxes, resample="NEAREST")
DATASET.AUGMENTOR = DATASET.AUGMENTOR.with_params(ResizeWithGtBoxes, resample="NEAREST")
