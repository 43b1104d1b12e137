"""Training step time: one process against 2 local workers (MultiWorkerMirroredStrategy on 127.0.0.1).

Trains each example config (classification: LmnetV1Quantize, batch 64, 32x32; detection:
LMFYoloQuantize, batch 16, 128x128) through ``executor/train.py`` twice with the same global
batch: as one process, and with ``--workers 2`` (each worker computes half of every batch; the
gradients are summed over the workers and batch norm is synchronized). The step time is taken from
the wall times of the chief's ``train/loss`` summaries between step ``--warmup`` and the last step,
so start-up, graph tracing and the final validation are left out.

    python -m benchmarks.distributed [--steps 120] [--warmup 20] [--only classification|detection]
"""
import argparse
import os
import subprocess
import sys
import tempfile

from tensorboard.backend.event_processing import event_accumulator

from benchmarks.common import REPO, print_table

EXAMPLES = {
    "classification": os.path.join(REPO, "configs", "example", "classification.py"),
    "detection": os.path.join(REPO, "configs", "example", "object_detection.py"),
}


def benchmark_config(example, directory, steps, summarise):
    """Writes a copy of an example config that trains ``steps`` steps and summarises every ``summarise``."""
    with open(EXAMPLES[example]) as stream:
        text = stream.read()
    overrides = (f"\nMAX_STEPS = {steps}\nSAVE_CHECKPOINT_STEPS = {steps}\nTEST_STEPS = {steps}\n"
                 f"SUMMARISE_STEPS = {summarise}\nDATASET.TRAIN_VALIDATION_SAVING_SIZE = 0\nIS_PRETRAIN = False\n")
    path = os.path.join(directory, f"{example}.py")
    with open(path, "w") as stream:
        stream.write(text + overrides)
    return path


def loss_wall_times(tensorboard_dir):
    """``{step: wall time}`` of the ``loss`` summaries in ``tensorboard_dir/train``."""
    accumulator = event_accumulator.EventAccumulator(os.path.join(tensorboard_dir, "train"),
                                                     size_guidance={event_accumulator.TENSORS: 0})
    accumulator.Reload()
    return {int(event.step): event.wall_time for event in accumulator.Tensors("loss")}


def train(config_path, experiment_id, directory, workers=None):
    """Runs ``executor/train.py`` and returns the experiment's tensorboard folder.

    Raises:
        RuntimeError: the training failed (its output is included).
    """
    env = dict(os.environ, OUTPUT_DIR=os.path.join(directory, "saved"), DATA_DIR=os.path.join(REPO, "dataset"),
               TF_CPP_MIN_LOG_LEVEL="3")
    command = [sys.executable, os.path.join(REPO, "executor", "train.py"), "-c", config_path, "-i", experiment_id,
               "--no_progress"] + (["--workers", str(workers), "--timeout", "3600"] if workers else [])
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return os.path.join(directory, "saved", experiment_id, "tensorboard")


def seconds_per_step(tensorboard_dir, warmup, steps):
    """Mean seconds per step between the ``warmup`` and ``steps`` loss summaries."""
    times = loss_wall_times(tensorboard_dir)
    return (times[steps] - times[warmup]) / (steps - warmup)


def example_row(example, steps, warmup, directory):
    """One table row: ms/step and images/s of one process and of 2 workers for one example config."""
    config_path = benchmark_config(example, directory, steps, summarise=warmup)
    single = seconds_per_step(train(config_path, f"{example}-1", directory), warmup, steps)
    double = seconds_per_step(train(config_path, f"{example}-2", directory, workers=2), warmup, steps)
    from lmnet import config as config_module
    batch = config_module.load(config_path).BATCH_SIZE
    return (example, batch, f"{single * 1000:.0f}", f"{batch / single:.0f}", f"{double * 1000:.0f}",
            f"{batch / double:.0f}", f"{double / single:.2f}")


def main():
    """Prints the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=120, help="training steps of each run")
    parser.add_argument("--warmup", type=int, default=20, help="steps left out of the timing (divides --steps)")
    parser.add_argument("--only", choices=sorted(EXAMPLES), help="run one example only")
    args = parser.parse_args()
    if args.steps % args.warmup:
        parser.error("--warmup must divide --steps (summaries are written every --warmup steps)")
    examples = [args.only] if args.only else sorted(EXAMPLES)
    with tempfile.TemporaryDirectory(prefix="lmnet-distributed-") as directory:
        rows = [example_row(example, args.steps, args.warmup, directory) for example in examples]
    print(f"\nSteps {args.warmup}..{args.steps}, global batch unchanged; {os.cpu_count()} CPU cores")
    print_table(["example", "global batch", "1 process ms/step", "1 process img/s", "2 workers ms/step",
                 "2 workers img/s", "2 workers / 1 process"], rows)


if __name__ == "__main__":
    main()
