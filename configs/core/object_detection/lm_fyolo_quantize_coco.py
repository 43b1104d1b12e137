"""LMFYoloQuantize on Coco: binary channel-wise weights, 2-bit activations on MS-COCO 2017 (80 classes),
300,000 steps; the rest as lm_fyolo_quantize_pascalvoc_2007_2012.py."""
from lmnet.datasets.coco import Coco

BASE = "lm_fyolo_quantize_pascalvoc_2007_2012.py"

DATASET_CLASS = Coco
MAX_STEPS = 300000
NETWORK.LEARNING_RATE_KWARGS = dict(NETWORK.LEARNING_RATE_KWARGS,
                                    boundaries=[int(MAX_STEPS * 0.5), int(MAX_STEPS * 0.75)])
