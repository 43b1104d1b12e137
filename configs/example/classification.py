"""Example: LmnetV1Quantize (binary channel-wise weights, 2-bit activations) on the embedded shapes set.

Runs in a few minutes on 2 CPU cores with no data to download:

    python executor/train.py -c configs/example/classification.py -i classification_demo
    python executor/evaluate.py -i classification_demo
"""
import keras

from lmnet.common import Tasks
from lmnet.config import SmartDict
from lmnet.data_augmentor import FlipLeftRight
from lmnet.data_processor import Sequence
from lmnet.datasets.synthetic_shapes import SyntheticShapes
from lmnet.networks.classification.lmnet_v1_quantize import LmnetV1Quantize
from lmnet.pre_processor import PerImageStandardization, Resize

BASE = "../common/binary_weights_2bit_activations.py"  # the quantizers

IS_DEBUG = False

NETWORK_CLASS = LmnetV1Quantize
DATASET_CLASS = SyntheticShapes

IMAGE_SIZE = [32, 32]
BATCH_SIZE = 64
DATA_FORMAT = "NHWC"
TASK = Tasks.CLASSIFICATION
CLASSES = SyntheticShapes.classes

MAX_STEPS = 1000
SAVE_CHECKPOINT_STEPS = 250
KEEP_CHECKPOINT_MAX = 3
TEST_STEPS = 500
SUMMARISE_STEPS = 100
SEED = 0

IS_PRETRAIN = False
PRETRAIN_VARS = []
PRETRAIN_DIR = ""
PRETRAIN_FILE = ""

PRE_PROCESSOR = Sequence([Resize(size=IMAGE_SIZE, resample="NEAREST"), PerImageStandardization()])
POST_PROCESSOR = None

NETWORK = SmartDict()
NETWORK.OPTIMIZER_CLASS = keras.optimizers.Adam
NETWORK.OPTIMIZER_KWARGS = {}
NETWORK.LEARNING_RATE_FUNC = keras.optimizers.schedules.CosineDecay
NETWORK.LEARNING_RATE_KWARGS = {"initial_learning_rate": 2e-3, "decay_steps": MAX_STEPS, "alpha": 0.01}
NETWORK.WEIGHT_DECAY_RATE = 0.0001

DATASET = SmartDict()
DATASET.PRE_PROCESSOR = PRE_PROCESSOR
DATASET.AUGMENTOR = Sequence([FlipLeftRight()])
DATASET.TRAIN_VALIDATION_SAVING_SIZE = 0
DATASET.ENABLE_PREFETCH = True
DATASET.OPTIONS = {"image_size": IMAGE_SIZE}
