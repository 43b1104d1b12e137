#!/bin/sh
# Creates the peer environment of benchmarks/peer_detection.py: PyTorch 2.13.0 (CPU) and Ultralytics 8.4.190,
# in its own virtual environment, never in lmnet's.
#
#   benchmarks/peer/setup_env.sh [VENV]        (default: .venv-peer in the current folder; git ignores .venv-*/)
#
# Why it installs this way:
# * "pip install torch==2.13.0" takes the CPU wheel on the project's machines; an unpinned torch pulls a multi-GB
#   CUDA build.
# * Ultralytics is installed with --no-deps from requirements.txt (its dependencies, pinned): its own requirements
#   pull torchvision, whose only 0.28.0 wheel on the package index is a CUDA build that fails to import next to
#   the CPU torch. Ultralytics does not need it for detection: without torchvision imported, its NMS is its own
#   pure-torch one (ultralytics/utils/nms.py, TorchNMS).
set -e
VENV=${1:-.venv-peer}
HERE=$(cd "$(dirname "$0")" && pwd)
python3 -m venv "$VENV"
"$VENV/bin/pip" install -q torch==2.13.0
"$VENV/bin/pip" install -q --no-deps -r "$HERE/requirements.txt"
"$VENV/bin/python" -c "import torch, ultralytics; print('peer environment:', '$VENV', 'torch', torch.__version__, 'ultralytics', ultralytics.__version__)"
