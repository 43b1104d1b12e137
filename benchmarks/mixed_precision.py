"""Step time of float32 against ``MIXED_PRECISION = "mixed_bfloat16"`` (bare ``tf.function`` training step).

Times the bare step of ``benchmarks.train_step`` (batches already in memory) for the example
classification config (LmnetV1Quantize, batch 64, 32x32) and the example detection config
(LMFYoloQuantize, batch 16, 128x128), each built float32 and mixed_bfloat16 from the same seed.
With ``--accuracy-steps K`` it also trains the classification example for K steps both ways
through the real trainer and prints the final validation accuracy of each; with
``--detection-steps K`` the same for the detection example (from scratch, ``IS_PRETRAIN = False``)
and its VOC mAP@0.5.

    python -m benchmarks.mixed_precision [--steps 50] [--warmup 10] [--accuracy-steps 0] [--detection-steps 0]
"""
import argparse
import os

from benchmarks.common import (EXAMPLE_CLASSIFICATION, REPO, load_config, print_table, scratch_environment,
                               train_recording)
from benchmarks.train_step import bare_seconds_per_step

EXAMPLE_DETECTION = os.path.join(REPO, "configs", "example", "object_detection.py")
POLICIES = (None, "mixed_bfloat16")


def policy_label(policy):
    """``float32`` for ``None``, else the policy name."""
    return policy or "float32"


def step_time_row(name, path, steps, warmup):
    """One table row: ms/step of float32 and mixed_bfloat16 and their ratio for the config at ``path``."""
    seconds = [bare_seconds_per_step(load_config(path, MIXED_PRECISION=policy), steps, warmup)
               for policy in POLICIES]
    config = load_config(path)
    return (name, config.BATCH_SIZE, f"{config.IMAGE_SIZE[0]}x{config.IMAGE_SIZE[1]}",
            f"{seconds[0] * 1000:.1f}", f"{seconds[1] * 1000:.1f}", f"{seconds[1] / seconds[0]:.2f}")


def accuracy_row(policy, steps, path=EXAMPLE_CLASSIFICATION, metric="accuracy"):
    """One table row: the final validation ``metric`` of the example at ``path`` trained ``steps`` steps."""
    config = load_config(path, MIXED_PRECISION=policy, MAX_STEPS=steps, SAVE_CHECKPOINT_STEPS=steps, TEST_STEPS=steps,
                         IS_PRETRAIN=False)  # from scratch, so that the two policies start alike
    config.NETWORK.LEARNING_RATE_KWARGS["decay_steps"] = steps
    records = train_recording(f"mixed-{policy_label(policy)}", config, scratch_environment())
    final = records[-1]
    return policy_label(policy), final.step, f"{final.seconds:.0f}", f"{final.results[metric]:.4f}"


def main():
    """Prints the step-time table and, with ``--accuracy-steps``, the accuracy table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50, help="steps per run, warm-up included")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--accuracy-steps", type=int, default=0, help="train the classifier K steps both ways")
    parser.add_argument("--detection-steps", type=int, default=0, help="train the detector K steps both ways")
    parser.add_argument("--skip-step-time", action="store_true", help="only the accuracy tables")
    args = parser.parse_args()
    if not args.skip_step_time:
        rows = [step_time_row("LmnetV1Quantize", EXAMPLE_CLASSIFICATION, args.steps, args.warmup),
                step_time_row("LMFYoloQuantize", EXAMPLE_DETECTION, args.steps, args.warmup)]
        print(f"\nBare tf.function training step, {args.steps - args.warmup} timed steps after {args.warmup} warm-up")
        print_table(["network", "batch", "size", "float32 (ms/step)", "mixed_bfloat16 (ms/step)", "bf16 / f32"], rows)
    if args.accuracy_steps:
        print(f"\nLmnetV1Quantize example trained {args.accuracy_steps} steps through the trainer")
        print_table(["policy", "step", "wall time (s)", "validation accuracy"],
                    [accuracy_row(policy, args.accuracy_steps) for policy in POLICIES])
    if args.detection_steps:
        print(f"\nLMFYoloQuantize example trained {args.detection_steps} steps through the trainer")
        print_table(["policy", "step", "wall time (s)", "validation mAP@0.5"],
                    [accuracy_row(policy, args.detection_steps, EXAMPLE_DETECTION, "mAP@0.5") for policy in POLICIES])


if __name__ == "__main__":
    main()
