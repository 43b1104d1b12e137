"""LmnetV1 on ImageFolder: float LmnetV1 on your own images, one folder per class under DATA_DIR/image_folder;
64x64 inputs, batch 32, 20,000 steps, the rest as lmnet_cifar10.py."""
from lmnet.data_augmentor import FlipLeftRight
from lmnet.data_processor import Sequence
from lmnet.datasets.image_folder import ImageFolder
from lmnet.networks.classification.lmnet_v1 import LmnetV1
from lmnet.pre_processor import DivideBy255, Resize

BASE = "lmnet_cifar10.py"

NETWORK_CLASS = LmnetV1
DATASET_CLASS = ImageFolder
IMAGE_SIZE = [64, 64]
BATCH_SIZE = 32
MAX_STEPS = 20000
NETWORK.LEARNING_RATE_KWARGS = dict(NETWORK.LEARNING_RATE_KWARGS,
                                    boundaries=[int(MAX_STEPS * 0.5), int(MAX_STEPS * 0.75)])
PRE_PROCESSOR = Sequence([Resize(), DivideBy255()])
DATASET.AUGMENTOR = Sequence([FlipLeftRight()])
