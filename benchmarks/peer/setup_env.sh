#!/bin/sh
# Creates the peer environment of benchmarks/peer_detection.py: PyTorch 2.13.0 (CPU) and Ultralytics 8.4.190,
# in its own virtual environment, never in lmnet's.
#
#   benchmarks/peer/setup_env.sh [VENV]        (default: .venv-peer in the current folder; git ignores .venv-*/)
#
# Why it installs this way:
# * "pip install torch==2.13.0" takes the CPU wheel on the project's machines; an unpinned torch pulls a multi-GB
#   CUDA build.
# * Ultralytics is installed with --no-deps from requirements.txt (its dependencies, pinned). torchvision is among
#   them because Ultralytics asks for its metadata and its validator imports it; the only torchvision 0.28.0 wheel on
#   the package index is a CUDA build whose compiled ops fail to load next to the CPU torch, so it is installed
#   without its CUDA dependencies and ultralytics_train.py (ensure_torchvision_nms) supplies the one op detection
#   uses, torchvision::nms.
set -e
VENV=${1:-.venv-peer}
HERE=$(cd "$(dirname "$0")" && pwd)
python3 -m venv "$VENV"
"$VENV/bin/pip" install -q torch==2.13.0
"$VENV/bin/pip" install -q --no-deps -r "$HERE/requirements.txt"
"$VENV/bin/python" -c "import torch, ultralytics; print('peer environment:', '$VENV', 'torch', torch.__version__, 'ultralytics', ultralytics.__version__)"
