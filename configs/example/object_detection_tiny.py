"""Example, stage 2 of 2: LMTinyYoloQuantize (binary channel-wise weights, 2-bit activations, stride 16) on the
embedded shapes detection set, initialised from the float LMTinyYolo of stage 1 (no data to download):

    python executor/train.py -c configs/example/object_detection_tiny_float.py -i detection_tiny_float
    python executor/train.py -c configs/example/object_detection_tiny.py -i detection_tiny
    python executor/evaluate.py -i detection_tiny
    python executor/export.py -i detection_tiny

The pre-trained weights (stage 1's weight average) are read from ``$OUTPUT_DIR/detection_tiny_float``
(``OUTPUT_DIR`` defaults to ``./saved``). Trained from scratch in one stage instead (``--set IS_PRETRAIN=false``)
it learns more slowly (docs/detection.rst). Everything else is stage 1's config (``BASE``).
"""
from lmnet.environment import Environment
from lmnet.networks.object_detection.lm_tiny_yolo_quantize import LMTinyYoloQuantize

BASE = ["object_detection_tiny_float.py", "../common/binary_weights_2bit_activations.py"]

NETWORK_CLASS = LMTinyYoloQuantize

MAX_STEPS = 1000

IS_PRETRAIN = True
PRETRAIN_DIR = Environment.from_env().experiment("detection_tiny_float").checkpoints
PRETRAIN_FILE = "save.ckpt-1000"

# Stage 1's learning rate, over a cosine of this stage's own steps.
NETWORK.LEARNING_RATE_KWARGS = dict(NETWORK.LEARNING_RATE_KWARGS, decay_steps=MAX_STEPS)
