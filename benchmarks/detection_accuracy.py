"""VOC mAP@0.5 against steps and wall time: LMFYoloQuantize and float LMFYolo on the embedded shapes set.

Trains each network with the example config (``configs/example/object_detection.py``) through the real
trainer and records the validation mAP (VOC2010+ all-point rule, IoU 0.5) every ``--test-steps``
steps. Targets (issue 3): quantized ≥ 0.85 and float ≥ 0.90, each within 20 minutes on 2 CPU cores.

    python -m benchmarks.detection_accuracy [--steps 3000] [--test-steps 500] [--only LMFYolo]
"""
import argparse

from benchmarks.common import (REPO, TARGET_HEADERS, float_variant, load_config, print_table, report_records,
                               scratch_environment, target_row, train_recording)
from lmnet.networks.object_detection.lm_fyolo import LMFYolo

EXAMPLE = f"{REPO}/configs/example/object_detection.py"
TARGETS = {"LMFYoloQuantize": 0.85, "LMFYolo": 0.90}
TIME_BUDGET_S = 20 * 60
METRIC = "mAP@0.5"


def configs(steps, test_steps):
    """The quantized example config and its float twin, both set to ``steps`` steps."""
    common = dict(MAX_STEPS=steps, TEST_STEPS=test_steps, SAVE_CHECKPOINT_STEPS=steps)
    quantized = load_config(EXAMPLE, **common)
    floating = float_variant(load_config(EXAMPLE, NETWORK_CLASS=LMFYolo, **common))
    for config in (quantized, floating):
        config.NETWORK.LEARNING_RATE_KWARGS["decay_steps"] = steps
    return {"LMFYoloQuantize": quantized, "LMFYolo": floating}


def main():
    """Trains the networks and prints the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--test-steps", type=int, default=500)
    parser.add_argument("--only", choices=sorted(TARGETS), help="train only this network")
    args = parser.parse_args()
    environment = scratch_environment()
    summary = []
    for name, config in configs(args.steps, args.test_steps).items():
        if args.only and name != args.only:
            continue
        records = train_recording(name, config, environment)
        report_records(name, records, METRIC, f" (batch {config.BATCH_SIZE}, {config.IMAGE_SIZE[0]}x"
                                              f"{config.IMAGE_SIZE[1]}, {args.steps} steps)")
        summary.append(target_row(name, records, METRIC, TARGETS[name], TIME_BUDGET_S))
    print(f"\nsummary: validation {METRIC} (2 CPU cores, budget {TIME_BUDGET_S} s)")
    print_table(TARGET_HEADERS, summary)


if __name__ == "__main__":
    main()
