"""YoloV2Quantize on Pascalvoc20072012: YOLOv2 with binary channel-wise weights and 2-bit activations; 416x416
inputs, batch 16, the rest as lm_fyolo_quantize_pascalvoc_2007_2012.py."""
from lmnet.networks.object_detection.yolo_v2_quantize import YoloV2Quantize

BASE = "lm_fyolo_quantize_pascalvoc_2007_2012.py"

NETWORK_CLASS = YoloV2Quantize
IMAGE_SIZE = [416, 416]
BATCH_SIZE = 16
