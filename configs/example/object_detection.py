"""Example, stage 2 of 2: LMFYoloQuantize (binary channel-wise weights, 2-bit activations) on the embedded
shapes detection set, initialised from the float LMFYolo of stage 1 (no data to download).

Trained from scratch the quantized network learns the shape classes slowly (VOC mAP@0.5 about 0.5 after
5,000 steps); from float weights it passes 0.85 in 1,500 steps. About 19 minutes for both stages on 2 CPU
cores:

    python executor/train.py -c configs/example/object_detection_float.py -i detection_demo_float
    python executor/train.py -c configs/example/object_detection.py -i detection_demo
    python executor/evaluate.py -i detection_demo

The pre-trained weights are read from ``$OUTPUT_DIR/detection_demo_float`` (``OUTPUT_DIR`` defaults to
``./saved``). To train from scratch instead, set ``IS_PRETRAIN = False`` and raise ``MAX_STEPS``.
"""
import keras

from lmnet.common import Tasks
from lmnet.config import SmartDict
from lmnet.data_augmentor import FlipLeftRight
from lmnet.data_processor import Sequence
from lmnet.datasets.synthetic_shapes_detection import SyntheticShapesDetection
from lmnet.environment import Environment
from lmnet.networks.object_detection.lm_fyolo_quantize import LMFYoloQuantize
from lmnet.post_processor import NMS, ExcludeLowScoreBox, FormatYoloV2
from lmnet.pre_processor import PerImageStandardization, ResizeWithGtBoxes
from lmnet.quantizations import binary_channel_wise_mean_scaling, linear_mid_tread_half

IS_DEBUG = False

NETWORK_CLASS = LMFYoloQuantize
DATASET_CLASS = SyntheticShapesDetection

IMAGE_SIZE = [128, 128]
BATCH_SIZE = 16
DATA_FORMAT = "NHWC"
TASK = Tasks.OBJECT_DETECTION
CLASSES = list(SyntheticShapesDetection.classes)

MAX_STEPS = 2000
SAVE_CHECKPOINT_STEPS = 500
KEEP_CHECKPOINT_MAX = 3
TEST_STEPS = 500
SUMMARISE_STEPS = 100
SEED = 0

# Every variable of the float stage's last checkpoint (the quantized network has the same layers).
IS_PRETRAIN = True
PRETRAIN_VARS = []
PRETRAIN_DIR = Environment.from_env().experiment("detection_demo_float").checkpoints
PRETRAIN_FILE = "save.ckpt-3000"

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
NETWORK.LEARNING_RATE_KWARGS = {"initial_learning_rate": 1e-3, "decay_steps": MAX_STEPS, "alpha": 0.01}
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
NETWORK.ACTIVATION_QUANTIZER = linear_mid_tread_half
NETWORK.ACTIVATION_QUANTIZER_KWARGS = {"bit": 2, "max_value": 2.0}
NETWORK.WEIGHT_QUANTIZER = binary_channel_wise_mean_scaling
NETWORK.WEIGHT_QUANTIZER_KWARGS = {}
NETWORK.QUANTIZE_FIRST_CONVOLUTION = True
NETWORK.QUANTIZE_LAST_CONVOLUTION = False

DATASET = SmartDict()
DATASET.PRE_PROCESSOR = PRE_PROCESSOR
DATASET.AUGMENTOR = Sequence([FlipLeftRight()])
DATASET.TRAIN_VALIDATION_SAVING_SIZE = 0
DATASET.ENABLE_PREFETCH = True
DATASET.OPTIONS = {"image_size": IMAGE_SIZE}
