"""Example, stage 1 of 2: float LMTinyYolo with the detection recipe on the embedded shapes set (no data to
download). The quantized stage (``object_detection_tiny.py``) starts from its weights, so train this one first,
under the experiment id that config expects (about 4 minutes on 2 CPU cores):

    python executor/train.py -c configs/example/object_detection_tiny_float.py -i detection_tiny_float

It stops after 1,000 steps of a 2,000-step cosine, while the learning rate is still high enough for the
quantized stage to keep learning. The recipe (docs/detection.rst): a space-to-depth stem (``STEM``: the image
enters ``block_2`` at half its size, a step costs about a third less), XLA-compiled steps (``JIT_COMPILE``, the
default), Adam at 2e-3, a CIoU box term, binary cross-entropy objectness with the IoU of the predicted box as
target (``LOSS_RESCORE``), every anchor whose shape matches a ground truth with IoU >= 0.5 responsible for it,
in its centre's cell and the two neighbouring cells nearest the centre (``LOSS_NEIGHBOUR_CELLS``), and an
exponential moving average of the weights, which validation, export and the next stage use (``EMA_DECAY``).
"""
from lmnet.networks.object_detection.lm_tiny_yolo import LMTinyYolo

BASE = "object_detection_float.py"  # the data, the pre-processing and the optimizer

NETWORK_CLASS = LMTinyYolo
NETWORK.STEM = "space_to_depth"

MAX_STEPS = 1000
SAVE_CHECKPOINT_STEPS = 500
TEST_STEPS = 500

NETWORK.LEARNING_RATE_KWARGS = {"initial_learning_rate": 2e-3, "decay_steps": 2000, "alpha": 0.01}
# [width, height] in grid cells of 16x16 pixels; the shapes span 1 to 3.6 cells.
NETWORK.ANCHORS = [[1.2, 1.2], [1.8, 1.8], [2.5, 2.5], [3.4, 3.4]]
NETWORK.LOSS_BOX = "ciou"
NETWORK.COORDINATE_SCALE = 2.0
NETWORK.LOSS_OBJECTNESS = "bce"
NETWORK.LOSS_RESCORE = True
NETWORK.LOSS_ASSIGN_IOU_THRESHOLD = 0.5
NETWORK.LOSS_NEIGHBOUR_CELLS = True

EMA_DECAY = 0.999
EMA_RAMP_STEPS = 200
