"""LmnetV0Quantize on Cifar100: binary weights, 2-bit activations on the 100 fine labels."""
import keras

from lmnet.common import Tasks
from lmnet.config import SmartDict
from lmnet.data_augmentor import Crop, FlipLeftRight, Pad
from lmnet.data_processor import Sequence
from lmnet.datasets.cifar100 import Cifar100
from lmnet.networks.classification.lmnet_v0_quantize import LmnetV0Quantize
from lmnet.pre_processor import DivideBy255, Resize
from lmnet.quantizations import binary_channel_wise_mean_scaling, linear_mid_tread_half

NETWORK_CLASS = LmnetV0Quantize
DATASET_CLASS = Cifar100

IMAGE_SIZE = [32, 32]
BATCH_SIZE = 128
DATA_FORMAT = "NHWC"
TASK = Tasks.CLASSIFICATION
CLASSES = Cifar100.classes

MAX_STEPS = 150000
SAVE_CHECKPOINT_STEPS = 1000
KEEP_CHECKPOINT_MAX = 5
TEST_STEPS = 1000
SUMMARISE_STEPS = 100

IS_PRETRAIN = False
PRETRAIN_VARS = []
PRETRAIN_DIR = ""
PRETRAIN_FILE = ""

PRE_PROCESSOR = Sequence([Resize(size=IMAGE_SIZE, resample="NEAREST"), DivideBy255()])
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
NETWORK.ACTIVATION_QUANTIZER = linear_mid_tread_half
NETWORK.ACTIVATION_QUANTIZER_KWARGS = {"bit": 2, "max_value": 2.0}
NETWORK.WEIGHT_QUANTIZER = binary_channel_wise_mean_scaling
NETWORK.WEIGHT_QUANTIZER_KWARGS = {}
NETWORK.QUANTIZE_FIRST_CONVOLUTION = True
NETWORK.QUANTIZE_LAST_CONVOLUTION = False

DATASET = SmartDict()
DATASET.PRE_PROCESSOR = PRE_PROCESSOR
DATASET.AUGMENTOR = Sequence([Pad(4), Crop(size=IMAGE_SIZE), FlipLeftRight()])
DATASET.TRAIN_VALIDATION_SAVING_SIZE = 5000
DATASET.ENABLE_PREFETCH = True
