"""LMFYolo on Pascalvoc20072012: float LM-FYolo on VOC 2007+2012."""
import keras

from lmnet.common import Tasks
from lmnet.config import SmartDict
from lmnet.data_augmentor import Brightness, Color, Contrast, FlipLeftRight, Hue, SSDRandomCrop
from lmnet.data_processor import Sequence
from lmnet.datasets.pascalvoc_2007_2012 import Pascalvoc20072012
from lmnet.networks.object_detection.lm_fyolo import LMFYolo
from lmnet.post_processor import NMS, ExcludeLowScoreBox, FormatYoloV2
from lmnet.pre_processor import DivideBy255, ResizeWithGtBoxes

NETWORK_CLASS = LMFYolo
DATASET_CLASS = Pascalvoc20072012

IMAGE_SIZE = [320, 320]
BATCH_SIZE = 32
DATA_FORMAT = "NHWC"
TASK = Tasks.OBJECT_DETECTION
CLASSES = list(Pascalvoc20072012.classes)

MAX_STEPS = 100000
SAVE_CHECKPOINT_STEPS = 5000
KEEP_CHECKPOINT_MAX = 5
TEST_STEPS = 5000
SUMMARISE_STEPS = 500

IS_PRETRAIN = False
PRETRAIN_VARS = []
PRETRAIN_DIR = ""
PRETRAIN_FILE = ""

# Helpers (lower case: not config keys). Anchors are [width, height] in grid cells (32x32 pixels).
anchors = [[1.3221, 1.73145], [3.19275, 4.00944], [5.05587, 8.09892], [9.47112, 4.84053], [11.2364, 10.0071]]
score_threshold = 0.05
nms_iou_threshold = 0.5
nms_max_output_size = 100

PRE_PROCESSOR = Sequence([ResizeWithGtBoxes(size=IMAGE_SIZE), DivideBy255()])
POST_PROCESSOR = Sequence([
    FormatYoloV2(image_size=IMAGE_SIZE, classes=CLASSES, anchors=anchors, data_format=DATA_FORMAT),
    ExcludeLowScoreBox(threshold=score_threshold),
    NMS(classes=CLASSES, iou_threshold=nms_iou_threshold, max_output_size=nms_max_output_size),
])

NETWORK = SmartDict()
NETWORK.OPTIMIZER_CLASS = keras.optimizers.SGD
NETWORK.OPTIMIZER_KWARGS = {"momentum": 0.9}
NETWORK.LEARNING_RATE_FUNC = keras.optimizers.schedules.PiecewiseConstantDecay
NETWORK.LEARNING_RATE_KWARGS = {
    "boundaries": [int(MAX_STEPS * 0.5), int(MAX_STEPS * 0.75)],
    "values": [1e-3, 1e-4, 1e-5],
}
NETWORK.WEIGHT_DECAY_RATE = 0.0005
NETWORK.ANCHORS = anchors
NETWORK.OBJECT_SCALE = 5.0
NETWORK.NO_OBJECT_SCALE = 1.0
NETWORK.CLASS_SCALE = 1.0
NETWORK.COORDINATE_SCALE = 1.0
NETWORK.LOSS_IOU_THRESHOLD = 0.6
NETWORK.LOSS_WARMUP_STEPS = 1000
NETWORK.SCORE_THRESHOLD = score_threshold
NETWORK.NMS_IOU_THRESHOLD = nms_iou_threshold
NETWORK.NMS_MAX_OUTPUT_SIZE = nms_max_output_size

DATASET = SmartDict()
DATASET.AUGMENTOR = Sequence([
    FlipLeftRight(),
    SSDRandomCrop(min_crop_ratio=0.3),
    ResizeWithGtBoxes(size=IMAGE_SIZE),
    Brightness(0.75, 1.25),
    Color(0.75, 1.25),
    Contrast(0.75, 1.25),
    Hue(-10, 10),
])
DATASET.TRAIN_VALIDATION_SAVING_SIZE = 0
DATASET.ENABLE_PREFETCH = True
