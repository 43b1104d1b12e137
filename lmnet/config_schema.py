"""The keys a config may hold, their kinds and defaults (see the configuration page of the documentation).

``lmnet.config`` checks a loaded config against these tables; this module only describes them.
"""
import dataclasses

_NO_DEFAULT = object()


@dataclasses.dataclass(frozen=True)
class Field:
    """One config key.

    Attributes:
        kind: name of the checker in ``lmnet.config`` (``int``, ``positive_int``, ``non_negative_int``,
            ``float``, ``positive_float``, ``non_negative_float``, ``unit_float`` (0 to 1), ``bool``, ``str``,
            ``size``, ``str_list``, ``list``, ``dict``, ``class``, ``network_class``,
            ``dataset_class``, ``quantizer``, ``processor``, ``task``, ``mixed_precision``,
            ``distribution_strategy``, ``any``).
        default: the value used when the key is absent (``REQUIRED`` when it must be given).
        optional: ``None`` is allowed as a value.
    """

    kind: str
    default: object = None
    optional: bool = True

    @property
    def required(self):
        """True when the key must be given."""
        return self.default is REQUIRED


REQUIRED = _NO_DEFAULT

#: The values of ``DISTRIBUTION_STRATEGY`` (:mod:`lmnet.training.distribution` makes them).
STRATEGIES = ("auto", "mirrored", "multi_worker")

TOP_LEVEL = {
    "NETWORK_CLASS": Field("network_class", REQUIRED, optional=False),
    "DATASET_CLASS": Field("dataset_class", REQUIRED, optional=False),
    "IMAGE_SIZE": Field("size", REQUIRED, optional=False),
    "BATCH_SIZE": Field("positive_int", REQUIRED, optional=False),
    "DATA_FORMAT": Field("str", "NHWC", optional=False),
    "TASK": Field("task"),
    "CLASSES": Field("str_list"),
    "MAX_STEPS": Field("positive_int"),
    "MAX_EPOCHS": Field("positive_float"),
    "SAVE_CHECKPOINT_STEPS": Field("positive_int", 1000, optional=False),
    "KEEP_CHECKPOINT_MAX": Field("non_negative_int", 5, optional=False),  # 0: keep all
    "TEST_STEPS": Field("positive_int", 1000, optional=False),
    "SUMMARISE_STEPS": Field("positive_int", 100, optional=False),
    "IS_PRETRAIN": Field("bool", False, optional=False),
    "PRETRAIN_VARS": Field("str_list"),
    "PRETRAIN_DIR": Field("str", ""),
    "PRETRAIN_FILE": Field("str", ""),
    "FROZEN_LAYERS": Field("str_list"),
    "IS_DISTRIBUTION": Field("bool", False, optional=False),
    "DISTRIBUTION_STRATEGY": Field("distribution_strategy", "auto", optional=False),
    "DETERMINISTIC": Field("bool", False, optional=False),
    "JIT_COMPILE": Field("bool", True, optional=False),
    "EMA_DECAY": Field("unit_float"),
    "EMA_RAMP_STEPS": Field("positive_int", 500, optional=False),
    "PRE_PROCESSOR": Field("processor"),
    "POST_PROCESSOR": Field("processor"),
    "IS_DEBUG": Field("bool", False, optional=False),
    "SEED": Field("non_negative_int", 0, optional=False),
    "MIXED_PRECISION": Field("mixed_precision"),
    "NETWORK": Field("dict", None),
    "DATASET": Field("dict", None),
}

NETWORK = {
    "OPTIMIZER_CLASS": Field("class"),
    "OPTIMIZER_KWARGS": Field("dict"),
    "LEARNING_RATE_FUNC": Field("class"),
    "LEARNING_RATE_KWARGS": Field("dict"),
    "IMAGE_SIZE": Field("size"),
    "BATCH_SIZE": Field("positive_int"),
    "DATA_FORMAT": Field("str"),
    "WEIGHT_DECAY_RATE": Field("non_negative_float"),
    "ACTIVATION_QUANTIZER": Field("quantizer"),
    "ACTIVATION_QUANTIZER_KWARGS": Field("dict"),
    "WEIGHT_QUANTIZER": Field("quantizer"),
    "WEIGHT_QUANTIZER_KWARGS": Field("dict"),
    "QUANTIZE_FIRST_CONVOLUTION": Field("bool"),
    "QUANTIZE_LAST_CONVOLUTION": Field("bool"),
    "ANCHORS": Field("list"),
    "OBJECT_SCALE": Field("non_negative_float"),
    "NO_OBJECT_SCALE": Field("non_negative_float"),
    "CLASS_SCALE": Field("non_negative_float"),
    "COORDINATE_SCALE": Field("non_negative_float"),
    "LOSS_IOU_THRESHOLD": Field("unit_float"),
    "LOSS_WARMUP_STEPS": Field("non_negative_int"),
    "LOSS_RESCORE": Field("bool"),
    "LOSS_BOX": Field("str"),
    "LOSS_OBJECTNESS": Field("str"),
    "LOSS_ASSIGN_IOU_THRESHOLD": Field("unit_float"),
    "LOSS_NEIGHBOUR_CELLS": Field("bool"),
    "STEM": Field("str"),
    "SCORE_THRESHOLD": Field("unit_float"),
    "NMS_IOU_THRESHOLD": Field("unit_float"),
    "NMS_MAX_OUTPUT_SIZE": Field("positive_int"),
}

DATASET = {
    "IMAGE_SIZE": Field("size"),
    "BATCH_SIZE": Field("positive_int"),
    "DATA_FORMAT": Field("str"),
    "PRE_PROCESSOR": Field("processor"),
    "AUGMENTOR": Field("processor"),
    "TRAIN_VALIDATION_SAVING_SIZE": Field("non_negative_int", 0, optional=False),
    "ENABLE_PREFETCH": Field("bool", True, optional=False),
    "OPTIONS": Field("dict"),
    "CACHE_DIR": Field("str"),
    "NUM_PARALLEL_CALLS": Field("positive_int"),  # None: tf.data tunes it
}

#: Keys copied from the top level into ``NETWORK`` / ``DATASET`` when absent there.
SHARED_KEYS = ("IMAGE_SIZE", "BATCH_SIZE", "DATA_FORMAT")
