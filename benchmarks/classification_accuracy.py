"""Validation accuracy against wall time: LmnetV1Quantize and float LmnetV1 on the embedded shapes set.

Trains each network with the example config (``configs/example/classification.py``) through the real
trainer and records validation accuracy every ``--test-steps`` steps. Targets (issue 2): quantized
≥ 0.95 and float ≥ 0.98 within 5 minutes on 2 CPU cores.

    python -m benchmarks.classification_accuracy [--steps 1000] [--test-steps 100]
"""
import argparse
import time

from benchmarks.common import EXAMPLE_CLASSIFICATION, float_variant, load_config, print_table, scratch_environment
from lmnet import experiment
from lmnet.networks.classification.lmnet_v1 import LmnetV1
from lmnet.training.trainer import Trainer

TARGETS = {"LmnetV1Quantize": 0.95, "LmnetV1": 0.98}
TIME_BUDGET_S = 300


class RecordingTrainer(Trainer):
    """A trainer that records (step, seconds since start, validation metrics) at each validation."""

    def run(self):
        self.records = []
        self.started = time.perf_counter()
        return super().run()

    def validate(self, step):
        results = super().validate(step)
        self.records.append((step, time.perf_counter() - self.started, results))
        return results


def configs(steps, test_steps):
    quantized = load_config(EXAMPLE_CLASSIFICATION, MAX_STEPS=steps, TEST_STEPS=test_steps, SAVE_CHECKPOINT_STEPS=steps)
    quantized.NETWORK.LEARNING_RATE_KWARGS["decay_steps"] = steps
    floating = float_variant(load_config(EXAMPLE_CLASSIFICATION, NETWORK_CLASS=LmnetV1, MAX_STEPS=steps,
                                         TEST_STEPS=test_steps, SAVE_CHECKPOINT_STEPS=steps))
    floating.NETWORK.LEARNING_RATE_KWARGS["decay_steps"] = steps
    return {"LmnetV1Quantize": quantized, "LmnetV1": floating}


def train(name, config, environment):
    paths = environment.experiment(name)
    experiment.prepare(config, None, paths, log=lambda *_: None)
    trainer = RecordingTrainer(config, paths, environment.data_dir, progress=False, log=lambda *_: None)
    trainer.run()
    return trainer.records


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--test-steps", type=int, default=100)
    args = parser.parse_args()
    environment = scratch_environment()
    summary = []
    for name, config in configs(args.steps, args.test_steps).items():
        records = train(name, config, environment)
        print(f"\n{name} (batch {config.BATCH_SIZE}, {args.steps} steps)")
        print_table(["step", "wall time (s)", "validation accuracy"],
                    [(step, f"{seconds:.0f}", f"{r['accuracy']:.4f}") for step, seconds, r in records])
        reached = [seconds for _, seconds, r in records if r["accuracy"] >= TARGETS[name]]
        final_step, final_seconds, final = records[-1]
        summary.append((name, f"{final['accuracy']:.4f}", f"{final_seconds:.0f}", TARGETS[name],
                        f"{reached[0]:.0f}" if reached else "not reached",
                        "yes" if reached and reached[0] <= TIME_BUDGET_S else "no"))
    print("\nsummary (2 CPU cores)")
    print_table(["network", "final accuracy", "total s", "target", "s to target", f"target within {TIME_BUDGET_S}s"],
                summary)


if __name__ == "__main__":
    main()
