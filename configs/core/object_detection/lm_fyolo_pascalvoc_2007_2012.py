"""LMFYolo on Pascalvoc20072012: float LM-FYolo on VOC 2007+2012."""
from lmnet.config import SmartDict
from lmnet.data_augmentor import Brightness, Color, Contrast, FlipLeftRight, Hue, SSDRandomCrop
from lmnet.data_processor import Sequence
from lmnet.datasets.pascalvoc_2007_2012 import Pascalvoc20072012
from lmnet.networks.object_detection.lm_fyolo import LMFYolo
from lmnet.pre_processor import DivideBy255, ResizeWithGtBoxes

BASE = "../../common/sgd_step_decay.py"  # the optimizer

NETWORK_CLASS = LMFYolo
DATASET_CLASS = Pascalvoc20072012

IMAGE_SIZE = [320, 320]
BATCH_SIZE = 32

MAX_STEPS = 100000
SAVE_CHECKPOINT_STEPS = 5000
TEST_STEPS = 5000
SUMMARISE_STEPS = 500

PRE_PROCESSOR = Sequence([ResizeWithGtBoxes(), DivideBy255()])

NETWORK.LEARNING_RATE_KWARGS = {"boundaries": [int(MAX_STEPS * 0.5), int(MAX_STEPS * 0.75)],
                                "values": [1e-3, 1e-4, 1e-5]}
# [width, height] in grid cells (32x32 pixels).
NETWORK.ANCHORS = [[1.3221, 1.73145], [3.19275, 4.00944], [5.05587, 8.09892], [9.47112, 4.84053], [11.2364, 10.0071]]
NETWORK.LOSS_WARMUP_STEPS = 1000

DATASET = SmartDict()
DATASET.AUGMENTOR = Sequence([
    FlipLeftRight(),
    SSDRandomCrop(min_crop_ratio=0.3),
    ResizeWithGtBoxes(),
    Brightness(0.75, 1.25),
    Color(0.75, 1.25),
    Contrast(0.75, 1.25),
    Hue(-10, 10),
])
