"""Example, stage 1 of 2: float LMFYolo on the embedded shapes detection set (no data to download).

The quantized example (``object_detection.py``) starts from these weights, so train this one first,
under the experiment id that config expects (about 32 minutes on 2 CPU cores):

    python executor/train.py -c configs/example/object_detection_float.py -i detection_demo_float

It stops after 3,000 steps of a 7,000-step cosine schedule: the weights are already good (VOC mAP@0.5
near 0.8) while the learning rate is still high enough for the quantized stage to keep learning.
Stage 2 reads ``save.ckpt-3000``: if you train this stage longer, raise ``KEEP_CHECKPOINT_MAX`` too (or
change stage 2's ``PRETRAIN_FILE``), or the rotation deletes that checkpoint.
"""
from lmnet.config import SmartDict
from lmnet.data_augmentor import FlipLeftRight
from lmnet.data_processor import Sequence
from lmnet.datasets.synthetic_shapes_detection import SyntheticShapesDetection
from lmnet.networks.object_detection.lm_fyolo import LMFYolo
from lmnet.pre_processor import PerImageStandardization, ResizeWithGtBoxes

BASE = "../common/adam_cosine.py"  # the optimizer

# Keys left out take their defaults (docs/config.rst): CLASSES and TASK follow the dataset and the
# network, POST_PROCESSOR is the network's own (decode, score threshold, NMS from the NETWORK keys below),
# and every processor size and the generated images follow IMAGE_SIZE.
NETWORK_CLASS = LMFYolo
DATASET_CLASS = SyntheticShapesDetection

IMAGE_SIZE = [128, 128]
BATCH_SIZE = 16

MAX_STEPS = 3000
SAVE_CHECKPOINT_STEPS = 500
KEEP_CHECKPOINT_MAX = 3
TEST_STEPS = 1000

PRE_PROCESSOR = Sequence([ResizeWithGtBoxes(resample="NEAREST"), PerImageStandardization()])

NETWORK.LEARNING_RATE_KWARGS = {"initial_learning_rate": 1e-3, "decay_steps": 7000, "alpha": 0.01}
# [width, height] in grid cells (a cell is 32x32 pixels); the shapes span 0.5 to 1.8 cells.
NETWORK.ANCHORS = [[0.6, 0.6], [0.9, 0.9], [1.25, 1.25], [1.7, 1.7]]
NETWORK.LOSS_WARMUP_STEPS = 500
NETWORK.LOSS_RESCORE = False

DATASET = SmartDict()
DATASET.AUGMENTOR = Sequence([FlipLeftRight()])
