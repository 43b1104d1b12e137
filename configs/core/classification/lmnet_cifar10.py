"""LmnetV0 on Cifar10: float LmnetV0, the classic lmnet CIFAR-10 recipe."""
import keras

from lmnet.common import Tasks
from lmnet.config import SmartDict
from lmnet.data_augmentor import Crop, FlipLeftRight, Pad
from lmnet.data_processor import Sequence
from lmnet.datasets.cifar10 import Cifar10
from lmnet.networks.classification.lmnet_v0 import LmnetV0
from lmnet.pre_processor import DivideBy255, Resize

NETWORK_CLASS = LmnetV0
DATASET_CLASS = Cifar10

IMAGE_SIZE = [32, 32]
BATCH_SIZE = 128
DATA_FORMAT = "NHWC"
TASK = Tasks.CLASSIFICATION
CLASSES = Cifar10.classes

MAX_STEPS = 100000
SAVE_CHECKPOINT_STEPS = 1000
KEEP_CHECKPOINT_MAX = 5
TEST_STEPS = 1000
SUMMARISE_STEPS = 100

IS_PRETRAIN = False
PRETRAIN_VARS = []
PRETRAIN_DIR = ""
PRETRAIN_FILE = ""

PRE_PROCESSOR = Sequence([Resize(size=IMAGE_SIZE), DivideBy255()])
POST_PROCESSOR = None

NETWORK = SmartDict()
NETWORK.OPTIMIZER_CLASS = keras.optimizers.SGD
NETWORK.OPTIMIZER_KWARGS = {"momentum": 0.9}
NETWORK.LEARNING_RATE_FUNC = keras.optimizers.schedules.PiecewiseConstantDecay
NETWORK.LEARNING_RATE_KWARGS = {
    "boundaries": [int(MAX_STEPS * 0.5), int(MAX_STEPS * 0.75)],
    "values": [0.01, 0.001, 0.0001],
}
NETWORK.WEIGHT_DECAY_RATE = 0.0005

DATASET = SmartDict()
DATASET.AUGMENTOR = Sequence([Pad(4), Crop(size=IMAGE_SIZE), FlipLeftRight()])
DATASET.TRAIN_VALIDATION_SAVING_SIZE = 0
DATASET.ENABLE_PREFETCH = True
