"""Validation accuracy against wall time: LmnetV1Quantize and float LmnetV1 on the embedded shapes set.

Trains each network with the example config (``configs/example/classification.py``) through the real
trainer and records validation accuracy every ``--test-steps`` steps. Targets (issue 2): quantized
≥ 0.95 and float ≥ 0.98 within 5 minutes on 2 CPU cores.

    python -m benchmarks.classification_accuracy [--steps 1000] [--test-steps 100]
"""
import argparse

from benchmarks.common import (EXAMPLE_CLASSIFICATION, TARGET_HEADERS, float_variant, load_config, print_table,
                               report_records, scratch_environment, target_row, train_recording)
from lmnet.networks.classification.lmnet_v1 import LmnetV1

TARGETS = {"LmnetV1Quantize": 0.95, "LmnetV1": 0.98}
TIME_BUDGET_S = 300


def configs(steps, test_steps):
    """The quantized example config and its float twin, both set to ``steps`` steps."""
    quantized = load_config(EXAMPLE_CLASSIFICATION, MAX_STEPS=steps, TEST_STEPS=test_steps, SAVE_CHECKPOINT_STEPS=steps)
    quantized.NETWORK.LEARNING_RATE_KWARGS["decay_steps"] = steps
    floating = float_variant(load_config(EXAMPLE_CLASSIFICATION, NETWORK_CLASS=LmnetV1, MAX_STEPS=steps,
                                         TEST_STEPS=test_steps, SAVE_CHECKPOINT_STEPS=steps))
    floating.NETWORK.LEARNING_RATE_KWARGS["decay_steps"] = steps
    return {"LmnetV1Quantize": quantized, "LmnetV1": floating}


def main():
    """Trains both networks and prints the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--test-steps", type=int, default=100)
    args = parser.parse_args()
    environment = scratch_environment()
    summary = []
    for name, config in configs(args.steps, args.test_steps).items():
        records = train_recording(name, config, environment)
        report_records(name, records, "accuracy", f" (batch {config.BATCH_SIZE}, {args.steps} steps)")
        summary.append(target_row(name, records, "accuracy", TARGETS[name], TIME_BUDGET_S))
    print(f"\nsummary: validation accuracy (2 CPU cores, budget {TIME_BUDGET_S} s)")
    print_table(TARGET_HEADERS, summary)


if __name__ == "__main__":
    main()
