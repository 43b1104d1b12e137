"""LmnetV0Quantize on Cifar10: binary weights, 2-bit activations; best checkpoint kept on 5,000 held-out
training images. The rest is lmnet_cifar10.py's recipe."""
from lmnet.data_processor import Sequence
from lmnet.networks.classification.lmnet_v0_quantize import LmnetV0Quantize
from lmnet.pre_processor import DivideBy255, Resize

BASE = ["lmnet_cifar10.py", "../../common/binary_weights_2bit_activations.py"]

NETWORK_CLASS = LmnetV0Quantize
PRE_PROCESSOR = Sequence([Resize(resample="NEAREST"), DivideBy255()])
DATASET.TRAIN_VALIDATION_SAVING_SIZE = 5000
