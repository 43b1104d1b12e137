"""YoloV2 on Pascalvoc20072012: the published YOLOv2 (float) on VOC 2007+2012 trainval, validated on VOC 2007 test;
416x416 inputs, batch 16, the rest as lm_fyolo_pascalvoc_2007_2012.py."""
from lmnet.networks.object_detection.yolo_v2 import YoloV2

BASE = "lm_fyolo_pascalvoc_2007_2012.py"

NETWORK_CLASS = YoloV2
IMAGE_SIZE = [416, 416]
BATCH_SIZE = 16
