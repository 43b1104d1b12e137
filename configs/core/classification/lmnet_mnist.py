"""LmnetV0 on Mnist: float LmnetV0 on MNIST digits resized to 32x32, 20,000 steps; the rest as lmnet_cifar10.py."""
from lmnet.data_augmentor import Brightness
from lmnet.data_processor import Sequence
from lmnet.datasets.mnist import Mnist

BASE = "lmnet_cifar10.py"

DATASET_CLASS = Mnist
MAX_STEPS = 20000
NETWORK.LEARNING_RATE_KWARGS = dict(NETWORK.LEARNING_RATE_KWARGS,
                                    boundaries=[int(MAX_STEPS * 0.5), int(MAX_STEPS * 0.75)])
DATASET.AUGMENTOR = Sequence([Brightness()])
