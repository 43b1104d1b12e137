"""LMFYoloQuantize on YoloTxt: your own data in YOLO txt form under DATA_DIR/yolo (classes.txt, train/,
validation/); 50,000 steps, the rest as lm_fyolo_quantize_pascalvoc_2007_2012.py."""
from lmnet.datasets.yolo_txt import YoloTxt

BASE = "lm_fyolo_quantize_pascalvoc_2007_2012.py"

DATASET_CLASS = YoloTxt
MAX_STEPS = 50000
NETWORK.LEARNING_RATE_KWARGS = dict(NETWORK.LEARNING_RATE_KWARGS,
                                    boundaries=[int(MAX_STEPS * 0.5), int(MAX_STEPS * 0.75)])
