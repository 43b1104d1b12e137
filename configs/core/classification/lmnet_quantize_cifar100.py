"""LmnetV0Quantize on Cifar100: binary weights, 2-bit activations on the 100 fine labels; 150,000 steps, the
rest as lmnet_quantize_cifar10.py."""
from lmnet.datasets.cifar100 import Cifar100

BASE = "lmnet_quantize_cifar10.py"

DATASET_CLASS = Cifar100
MAX_STEPS = 150000
NETWORK.LEARNING_RATE_KWARGS = dict(NETWORK.LEARNING_RATE_KWARGS,
                                    boundaries=[int(MAX_STEPS * 0.5), int(MAX_STEPS * 0.75)])
