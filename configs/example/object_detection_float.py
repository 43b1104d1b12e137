"""Example, stage 1 of 2: float LMFYolo on the embedded shapes detection set (no data to download).

The quantized example (``object_detection.py``) starts from these weights, so train this one first,
under the experiment id that config expects (about 32 minutes on 2 CPU cores):

    python executor/train.py -c configs/example/object_detection_float.py -i detection_demo_float

It stops after 3,000 steps of a 7,000-step cosine schedule: the weights are already good (VOC mAP@0.5
near 0.8) while the learning rate is still high enough for the quantized stage to keep learning.
Stage 2 reads ``save.ckpt-3000``: if you train this stage longer, raise ``KEEP_CHECKPOINT_MAX`` too (or
change stage 2's ``PRETRAIN_FILE``), or the rotation deletes that checkpoint.
"""
import keras

from lmnet.common import Tasks
from lmnet.config import SmartDict
from lmnet.data_augmentor import FlipLeftRight
from lmnet.data_processor import Sequence
from lmnet.datasets.synthetic_shapes_detection import SyntheticShapesDetection
from lmnet.networks.object_detection.lm_fyolo import LMFYolo
from lmnet.post_processor import NMS, ExcludeLowScoreBox, FormatYoloV2
from lmnet.pre_processor import PerImageStandardization, ResizeWithGtBoxes

IS_DEBUG = False

NETWORK_CLASS = LMFYolo
DATASET_CLASS = SyntheticShapesDetection

IMAGE_SIZE = [128, 128]
BATCH_SIZE = 16
DATA_FORMAT = "NHWC"
TASK = Tasks.OBJECT_DETECTION
CLASSES = list(SyntheticShapesDetection.classes)

MAX_STEPS = 3000
SAVE_CHECKPOINT_STEPS = 500
KEEP_CHECKPOINT_MAX = 3
TEST_STEPS = 1000
SUMMARISE_STEPS = 100
SEED = 0

IS_PRETRAIN = False
PRETRAIN_VARS = []
PRETRAIN_DIR = ""
PRETRAIN_FILE = ""

# Helpers (lower case: not config keys). Anchors are [width, height] in grid cells (a cell is 32x32
# pixels); the shapes span 0.5 to 1.8 cells.
anchors = [[0.6, 0.6], [0.9, 0.9], [1.25, 1.25], [1.7, 1.7]]
score_threshold = 0.05
nms_iou_threshold = 0.5
nms_max_output_size = 100

PRE_PROCESSOR = Sequence([ResizeWithGtBoxes(size=IMAGE_SIZE, resample="NEAREST"), PerImageStandardization()])
POST_PROCESSOR = Sequence([
    FormatYoloV2(image_size=IMAGE_SIZE, classes=CLASSES, anchors=anchors, data_format=DATA_FORMAT),
    ExcludeLowScoreBox(threshold=score_threshold),
    NMS(classes=CLASSES, iou_threshold=nms_iou_threshold, max_output_size=nms_max_output_size),
])

NETWORK = SmartDict()
NETWORK.OPTIMIZER_CLASS = keras.optimizers.Adam
NETWORK.OPTIMIZER_KWARGS = {}
NETWORK.LEARNING_RATE_FUNC = keras.optimizers.schedules.CosineDecay
NETWORK.LEARNING_RATE_KWARGS = {"initial_learning_rate": 1e-3, "decay_steps": 7000, "alpha": 0.01}
NETWORK.WEIGHT_DECAY_RATE = 0.0001
NETWORK.ANCHORS = anchors
NETWORK.OBJECT_SCALE = 5.0
NETWORK.NO_OBJECT_SCALE = 1.0
NETWORK.CLASS_SCALE = 1.0
NETWORK.COORDINATE_SCALE = 1.0
NETWORK.LOSS_IOU_THRESHOLD = 0.6
NETWORK.LOSS_WARMUP_STEPS = 500
NETWORK.LOSS_RESCORE = False
NETWORK.SCORE_THRESHOLD = score_threshold
NETWORK.NMS_IOU_THRESHOLD = nms_iou_threshold
NETWORK.NMS_MAX_OUTPUT_SIZE = nms_max_output_size

DATASET = SmartDict()
DATASET.PRE_PROCESSOR = PRE_PROCESSOR
DATASET.AUGMENTOR = Sequence([FlipLeftRight()])
DATASET.TRAIN_VALIDATION_SAVING_SIZE = 0
DATASET.ENABLE_PREFETCH = True
DATASET.OPTIONS = {"image_size": IMAGE_SIZE}
