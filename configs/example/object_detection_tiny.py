"""Example: LMTinyYoloQuantize (binary channel-wise weights, 2-bit activations, stride 16) on the embedded
shapes detection set, trained from scratch in one stage (no data to download).

    python executor/train.py -c configs/example/object_detection_tiny.py -i detection_tiny
    python executor/evaluate.py -i detection_tiny

The recipe levers (docs/detection.rst): XLA-compiled steps (``JIT_COMPILE``, the default), a CIoU box term,
binary cross-entropy objectness, every anchor matching a ground truth with shape IoU >= 0.5 responsible
for it, and an exponential moving average of the weights for validation and export (``EMA_DECAY``).
"""
from lmnet.networks.object_detection.lm_tiny_yolo_quantize import LMTinyYoloQuantize

BASE = ["object_detection_float.py", "../common/binary_weights_2bit_activations.py"]

NETWORK_CLASS = LMTinyYoloQuantize

MAX_STEPS = 2000
SAVE_CHECKPOINT_STEPS = 500
TEST_STEPS = 500

NETWORK.LEARNING_RATE_KWARGS = {"initial_learning_rate": 1e-3, "decay_steps": MAX_STEPS, "alpha": 0.01}
# [width, height] in grid cells of 16x16 pixels; the shapes span 1 to 3.6 cells.
NETWORK.ANCHORS = [[1.2, 1.2], [1.8, 1.8], [2.5, 2.5], [3.4, 3.4]]
NETWORK.LOSS_BOX = "ciou"
NETWORK.COORDINATE_SCALE = 2.0
NETWORK.LOSS_OBJECTNESS = "bce"
NETWORK.LOSS_ASSIGN_IOU_THRESHOLD = 0.5

EMA_DECAY = 0.999
EMA_RAMP_STEPS = 200
