"""VGG16 on Cifar10: the published VGG-16 sized to 32x32 inputs (learning rate at most 0.003: higher rates
kill the ReLUs). The rest is lmnet_cifar10.py's recipe."""
from lmnet.networks.classification.vgg16 import VGG16

BASE = "lmnet_cifar10.py"

NETWORK_CLASS = VGG16
BATCH_SIZE = 64
NETWORK.LEARNING_RATE_KWARGS = dict(NETWORK.LEARNING_RATE_KWARGS, values=[0.003, 0.0003, 0.00003])
