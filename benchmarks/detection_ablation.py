"""The detection recipe, one lever at a time: each run is the README demo's stage with one change.

Float levers change stage 1 (``configs/example/object_detection_tiny_float.py``: LMTinyYolo, 1,000 steps of
a 2,000-step cosine); quantized levers change stage 2 (``object_detection_tiny.py``: LMTinyYoloQuantize
from stage 1's weights, 1,000 steps), all starting from the same stage-1 run (the first row, trained first).
Every run goes through the real trainer and is scored on the 500 validation images by pycocotools
(mAP@0.5:0.95) and lmnet's VOC metric (mAP@0.5) every ``TEST_STEPS``; the CPU-seconds are those of the
training process (user + system, validations left out; a stage-2 row's are its own, stage 1 adds about as much
again). Training is deterministic, so the mAP at a step is the same on every machine; the CPU-seconds are not.

    python -m benchmarks.detection_ablation [--only NAME ...] [--work DIR]

``--only`` trains the named rows (``float``, ``float-no-ciou``, …, ``quantized-pact``: ``FLOAT_LEVERS`` and
``QUANTIZED_LEVERS``), and stage 1 when a stage-2 row needs it and it is not there yet.
"""
import argparse
import os
import sys

from benchmarks.common import REPO, print_table
from benchmarks.peer_detection import EXAMPLE_FLOAT, EXAMPLE_QUANTIZED, stage_experiment_id, train_lmnet_chain
from lmnet.environment import Environment

#: The data's anchors fitted by ``lmnet check -c configs/example/object_detection_tiny.py`` (grid cells).
FITTED_ANCHORS = "[[1.31, 1.31], [1.75, 1.75], [2.24, 2.25], [2.93, 2.93]]"
#: Stage 1's row: the recipe as the example has it.
RECIPE_FLOAT = "float"
#: Rows of stage 1: name -> (what changes, config overrides in ``--set`` syntax) of the float example.
FLOAT_LEVERS = {
    RECIPE_FLOAT: ("stage 1 as the example has it", ()),
    "float-no-ciou": ("without CIoU (Darknet's squared box errors)",
                      ("NETWORK.LOSS_BOX=mse", "NETWORK.COORDINATE_SCALE=1.0")),
    "float-no-bce": ("without BCE objectness (squared error)", ("NETWORK.LOSS_OBJECTNESS=mse",)),
    "float-no-multi": ("without multi-anchor assignment", ("NETWORK.LOSS_ASSIGN_IOU_THRESHOLD=null",)),
    "float-no-ema": ("without the weight average (EMA)", ("EMA_DECAY=null",)),
    "float-fitted-anchors": ("with the fitted anchors", (f"NETWORK.ANCHORS={FITTED_ANCHORS}",)),
    "float-box-weight-5": ("with box weight 5 (COORDINATE_SCALE)", ("NETWORK.COORDINATE_SCALE=5.0",)),
    "float-no-iou-objectness": ("with objectness target 1 instead of the IoU (LOSS_RESCORE)",
                                ("NETWORK.LOSS_RESCORE=false",)),
    "float-learning-rate-1e-3": ("with Adam at 1e-3 instead of 2e-3",
                                 ("NETWORK.LEARNING_RATE_KWARGS.initial_learning_rate=0.001",)),
    "float-learning-rate-3e-3": ("with Adam at 3e-3 instead of 2e-3",
                                 ("NETWORK.LEARNING_RATE_KWARGS.initial_learning_rate=0.003",)),
    "float-ema-0.998": ("with the weight average at decay 0.998 instead of 0.999", ("EMA_DECAY=0.998",)),
    "float-no-neighbour-cells": ("without neighbour-cell assignment (LOSS_NEIGHBOUR_CELLS)",
                                 ("NETWORK.LOSS_NEIGHBOUR_CELLS=false",)),
    "float-convolution-stem": ("with block_1 at full resolution instead of the space-to-depth stem (STEM)",
                               ("NETWORK.STEM=convolution",)),
}
#: Rows of stage 2: name -> (what changes, config overrides) of the quantized example.
QUANTIZED_LEVERS = {
    "quantized": ("stage 2 as the example has it", ()),
    "quantized-pact": ("with PACT activations", ("NETWORK.ACTIVATION_QUANTIZER=pact",)),
    "quantized-lsq": ("with LSQ activations", ("NETWORK.ACTIVATION_QUANTIZER=lsq",)),
    "quantized-frozen-block-2": ("with block_2 frozen, the first convolution after the stem (FROZEN_LAYERS)",
                                 ('FROZEN_LAYERS=["block_2*"]',)),
}


def stage2_overrides(overrides, stage1_checkpoints):
    """A stage-2 row's overrides, reading stage 1's last checkpoint from ``stage1_checkpoints``."""
    return (*overrides, f"PRETRAIN_DIR={stage1_checkpoints}", "PRETRAIN_FILE=save.ckpt-1000")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", help="train only this row, by name (repeatable)")
    parser.add_argument("--work", default=os.path.join(REPO, "saved", "detection_ablation"), help="output folder")
    args = parser.parse_args()
    known = {**FLOAT_LEVERS, **QUANTIZED_LEVERS}
    unknown = [label for label in args.only or [] if label not in known]
    if unknown:
        parser.error(f"--only: no row {unknown[0]!r}; rows: {', '.join(known)}")
    wanted = args.only or list(known)
    environment = Environment(output_dir=os.path.join(args.work, "lmnet"), data_dir=os.path.join(REPO, "dataset"))
    stage1 = environment.experiment(stage_experiment_id(RECIPE_FLOAT, 0))
    results = {}
    needs_stage1 = any(name in QUANTIZED_LEVERS for name in wanted)
    for name, (change, overrides) in FLOAT_LEVERS.items():
        if name in wanted or (name == RECIPE_FLOAT and needs_stage1 and not os.path.exists(
                os.path.join(stage1.checkpoints, "save.ckpt-1000.index"))):
            results[f"{name}: {change}"] = train_lmnet_chain([(EXAMPLE_FLOAT, overrides)], name, environment)
    for name, (change, overrides) in QUANTIZED_LEVERS.items():
        if name in wanted:
            stages = [(EXAMPLE_QUANTIZED, stage2_overrides(overrides, stage1.checkpoints))]
            results[f"{name}: {change}"] = train_lmnet_chain(stages, name, environment)
    print("\nmAP@0.5 / mAP@0.5:0.95 (training CPU-seconds of the stage) at each validation, by images seen")
    seen = sorted({record.images for records in results.values() for record in records})
    rows = []
    for label, records in results.items():
        by_images = {r.images: f"{r.ap50:.3f} / {r.ap:.3f} ({r.cpu:.0f})" for r in records}
        rows.append((label, *(by_images.get(images, "") for images in seen)))
    print_table(["run", *(f"{images:,} images" for images in seen)], rows)


if __name__ == "__main__":
    sys.exit(main())
