"""Validation accuracy against wall time: LmnetV1Quantize and float LmnetV1 on the embedded shapes set.

Trains each network with the example config (``configs/example/classification.py``) through the real
trainer and records validation accuracy every ``--test-steps`` steps. Targets (issue 2): quantized
≥ 0.95 and float ≥ 0.98 within 5 minutes on 2 CPU cores.

The quantizer and training levers of the detection recipe run on LmnetV1Quantize too, each alone on top
of the example config: the learned activation ranges ``pact`` and ``lsq`` (in place of
``linear_mid_tread_half``, same bits and initial ``max_value``) and the weight average ``EMA_DECAY``.
``--only NAME`` trains one of the runs.

    python -m benchmarks.classification_accuracy [--steps 1000] [--test-steps 100] [--only NAME]
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
    runs = {"LmnetV1Quantize": quantized, "LmnetV1": floating}
    for quantizer in ("pact", "lsq"):
        runs[f"LmnetV1Quantize + {quantizer}"] = load_config(
            EXAMPLE_CLASSIFICATION, MAX_STEPS=steps, TEST_STEPS=test_steps, SAVE_CHECKPOINT_STEPS=steps,
            NETWORK=dict(quantized.NETWORK, ACTIVATION_QUANTIZER=quantizer))
    runs["LmnetV1Quantize + EMA 0.99"] = load_config(EXAMPLE_CLASSIFICATION, MAX_STEPS=steps, TEST_STEPS=test_steps,
                                                     SAVE_CHECKPOINT_STEPS=steps, NETWORK=dict(quantized.NETWORK),
                                                     EMA_DECAY=0.99, EMA_RAMP_STEPS=100)
    return runs


def main():
    """Trains both networks and prints the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--test-steps", type=int, default=100)
    parser.add_argument("--only", help="train only this run (a name of the summary table)")
    args = parser.parse_args()
    environment = scratch_environment()
    summary = []
    for name, config in configs(args.steps, args.test_steps).items():
        if args.only and name != args.only:
            continue
        records = train_recording(name, config, environment)
        report_records(name, records, "accuracy", f" (batch {config.BATCH_SIZE}, {args.steps} steps)")
        target = TARGETS[name.split(" + ")[0]]
        summary.append(target_row(name, records, "accuracy", target, TIME_BUDGET_S))
    print(f"\nsummary: validation accuracy (2 CPU cores, budget {TIME_BUDGET_S} s)")
    print_table(TARGET_HEADERS, summary)


if __name__ == "__main__":
    main()
