"""LmnetV1Quantize on Cifar10: binary channel-wise weights, 2-bit activations (max 2.0); the rest as
lmnet_quantize_cifar10.py."""
from lmnet.networks.classification.lmnet_v1_quantize import LmnetV1Quantize

BASE = "lmnet_quantize_cifar10.py"

NETWORK_CLASS = LmnetV1Quantize
