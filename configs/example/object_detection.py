"""Example, stage 2 of 2: LMFYoloQuantize (binary channel-wise weights, 2-bit activations) on the embedded
shapes detection set, initialised from the float LMFYolo of stage 1 (no data to download).

Trained from scratch the quantized network learns the shape classes slowly (VOC mAP@0.5 about 0.5 after
5,000 steps); from float weights it passes 0.85 in 1,500 steps. About 50 minutes for both stages on 2 CPU
cores (measured on the project's 2-core machines):

    python executor/train.py -c configs/example/object_detection_float.py -i detection_demo_float
    python executor/train.py -c configs/example/object_detection.py -i detection_demo
    python executor/evaluate.py -i detection_demo

The pre-trained weights are read from ``$OUTPUT_DIR/detection_demo_float`` (``OUTPUT_DIR`` defaults to
``./saved``). To train from scratch instead, set ``IS_PRETRAIN = False`` and raise ``MAX_STEPS`` (for example
``--set IS_PRETRAIN=false --set MAX_STEPS=5000``; the cosine's ``decay_steps`` then stays 2,000 unless you set
``NETWORK.LEARNING_RATE_KWARGS`` too). Everything else is stage 1's config (``BASE``).
"""
from lmnet.environment import Environment
from lmnet.networks.object_detection.lm_fyolo_quantize import LMFYoloQuantize

BASE = ["object_detection_float.py", "../common/binary_weights_2bit_activations.py"]

NETWORK_CLASS = LMFYoloQuantize

MAX_STEPS = 2000
TEST_STEPS = 500

# Every variable of the float stage's last checkpoint (the quantized network has the same layers).
IS_PRETRAIN = True
PRETRAIN_DIR = Environment.from_env().experiment("detection_demo_float").checkpoints
PRETRAIN_FILE = "save.ckpt-3000"

NETWORK.LEARNING_RATE_KWARGS = dict(NETWORK.LEARNING_RATE_KWARGS, decay_steps=MAX_STEPS)
