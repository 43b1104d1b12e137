"""Quantizers: pure TensorFlow functions with straight-through gradients, registered by name.

Each quantizer is ``fn(x, **kwargs) -> tensor``; its contract name (``fn.quantizer_name``) is
what configs and YAML files use, and what the exported graph calls its ``QTZ_<name>`` node.
"""
from lmnet.quantizations.binary import binary_channel_wise_mean_scaling, binary_mean_scaling
from lmnet.quantizations.linear import linear_mid_tread_half
from lmnet.quantizations.registry import get_quantizer, quantizer_name, registered_quantizers
from lmnet.quantizations.ternary import ternary

__all__ = ["binary_channel_wise_mean_scaling", "binary_mean_scaling", "get_quantizer", "linear_mid_tread_half",
           "quantizer_name", "registered_quantizers", "ternary"]
