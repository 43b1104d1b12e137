"""Quantizers: one :class:`~lmnet.quantizations.base.Quantizer` object each, registered by contract name.

A quantizer's contract name (``quantizer.name``) is what configs and YAML files use, and what the
exported graph calls its ``QTZ_<name>`` node. Calling it (``quantizer(x, **kwargs)``) quantizes for
training with a straight-through gradient; the exporters, profiling and the config checks read the same
object (:mod:`lmnet.quantizations.base`).
"""
from lmnet.quantizations.base import PREFIX, Parameter, QonnxForm, Quantizer
from lmnet.quantizations.binary import binary_channel_wise_mean_scaling, binary_mean_scaling
from lmnet.quantizations.learned import lsq, pact
from lmnet.quantizations.linear import linear_mid_tread_half
from lmnet.quantizations.registry import get_quantizer, quantizer_name, register, registered_quantizers
from lmnet.quantizations.ternary import ternary

__all__ = ["PREFIX", "Parameter", "QonnxForm", "Quantizer", "binary_channel_wise_mean_scaling", "binary_mean_scaling",
           "get_quantizer", "linear_mid_tread_half", "lsq", "pact", "quantizer_name", "register",
           "registered_quantizers", "ternary"]
