"""Quantizers: pure TensorFlow functions with straight-through gradients, registered by name.

Each quantizer is ``fn(x, **kwargs) -> tensor``; its contract name (``fn.quantizer_name``) is
what configs and YAML files use, and what the exported graph calls its ``QTZ_<name>`` node. The keyword
arguments a config gives a quantizer are checked against its signature when the config loads
(:func:`check_quantizer_kwargs`).
"""
from lmnet.quantizations.binary import binary_channel_wise_mean_scaling, binary_mean_scaling
from lmnet.quantizations.linear import linear_mid_tread_half
from lmnet.quantizations.registry import (check_quantizer_kwargs, get_quantizer, quantizer_keywords, quantizer_name,
                                          registered_quantizers)
from lmnet.quantizations.ternary import ternary

__all__ = ["binary_channel_wise_mean_scaling", "binary_mean_scaling", "check_quantizer_kwargs", "get_quantizer",
           "linear_mid_tread_half", "quantizer_keywords", "quantizer_name", "registered_quantizers", "ternary"]
