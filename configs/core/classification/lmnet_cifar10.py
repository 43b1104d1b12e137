"""LmnetV0 on Cifar10: float LmnetV0, the classic lmnet CIFAR-10 recipe."""
from lmnet.config import SmartDict
from lmnet.data_augmentor import Crop, FlipLeftRight, Pad
from lmnet.data_processor import Sequence
from lmnet.datasets.cifar10 import Cifar10
from lmnet.networks.classification.lmnet_v0 import LmnetV0
from lmnet.pre_processor import DivideBy255, Resize

BASE = "../../common/sgd_step_decay.py"  # the optimizer

NETWORK_CLASS = LmnetV0
DATASET_CLASS = Cifar10

IMAGE_SIZE = [32, 32]
BATCH_SIZE = 128

MAX_STEPS = 100000

PRE_PROCESSOR = Sequence([Resize(), DivideBy255()])

NETWORK.LEARNING_RATE_KWARGS = {"boundaries": [int(MAX_STEPS * 0.5), int(MAX_STEPS * 0.75)],
                                "values": [0.01, 0.001, 0.0001]}

DATASET = SmartDict()
DATASET.AUGMENTOR = Sequence([Pad(4), Crop(size=[32, 32]), FlipLeftRight()])  # a random crop of the 32x32 image
