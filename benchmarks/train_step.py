"""The trainer's step time against a bare ``tf.function`` step of the same model on the same batches.

Both sides train the example network (LmnetV1Quantize, batch 64, 32x32) from the same initial weights.
The trainer side runs ``Trainer.run`` (input pipeline, progress bar, summaries every SUMMARISE_STEPS)
with checkpoints and validation pushed past the timed window; the bare side loops over the same
batches, already in memory, calling only the ``tf.function`` step. Target: overhead ≤ 10%.

    python -m benchmarks.train_step [--steps 200] [--warmup 20] [--repeats 2] [--parallel-calls N|auto]

``--parallel-calls`` sets ``DATASET.NUM_PARALLEL_CALLS`` of both sides (default: as the config has it).
"""
import argparse
import time

import keras

from benchmarks.common import EXAMPLE_CLASSIFICATION, load_config, print_table, scratch_environment
from lmnet import builders, experiment, pipeline
from lmnet.training.hooks import Hook, default_hooks
from lmnet.training.trainer import Trainer, make_train_step


class StepTimes(Hook):
    """Records the time of each step boundary (a hook due after every step)."""

    def __init__(self):
        self.times = []

    def period(self, config):
        return 1

    def after_step(self, trainer, context):
        self.times.append(time.perf_counter())


def trainer_seconds_per_step(config, warmup):
    """Mean seconds per step of ``Trainer.run`` after ``warmup`` steps."""
    environment = scratch_environment()
    paths = environment.experiment("bench")
    experiment.prepare(config, None, paths, log=lambda *_: None)
    step_times = StepTimes()
    trainer = Trainer(config, paths, environment.data_dir, progress=True, log=lambda *_: None,
                      hooks=default_hooks() + [step_times])
    trainer.run()
    timed = step_times.times[warmup:]
    return (timed[-1] - timed[0]) / (len(timed) - 1)


def bare_seconds_per_step(config, steps, warmup):
    """Mean seconds per step of a bare ``tf.function`` loop over the same batches held in memory."""
    dataset = builders.build_dataset(config, "dataset", "train")
    keras.utils.set_random_seed(config.SEED)
    network = builders.build_network(config, dataset.classes)
    optimizer = network.create_optimizer()
    optimizer.build(network.training_model.trainable_variables)
    step = make_train_step(network, optimizer, jit_compile=config.JIT_COMPILE)
    processor = builders.build_processor(config, dataset, training=True)
    batches = list(pipeline.train_dataset(processor, config.BATCH_SIZE, config.SEED).take(steps))
    for images, labels in batches[:warmup]:
        step(images, labels)
    start = time.perf_counter()
    for images, labels in batches[warmup:]:
        loss, _ = step(images, labels)
    float(loss)
    return (time.perf_counter() - start) / (steps - warmup)


def parallel_calls_option(text):
    """``--parallel-calls``: ``"config"``, ``"auto"`` (``None``: tf.data tunes it) or a number of at least 1."""
    if text in ("config", "auto"):
        return None if text == "auto" else text
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, 'auto' or 'config', got {text!r}")
    return int(text)


def main():
    """Runs both sides ``--repeats`` times and prints the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--parallel-calls", type=parallel_calls_option, default="config",
                        help="DATASET.NUM_PARALLEL_CALLS: a number >= 1, 'auto' (tf.data tunes it) or 'config'")
    args = parser.parse_args()
    config = load_config(EXAMPLE_CLASSIFICATION, MAX_STEPS=args.steps + 1, SAVE_CHECKPOINT_STEPS=10 ** 6,
                         TEST_STEPS=10 ** 6, SUMMARISE_STEPS=100)
    if args.parallel_calls != "config":
        config.DATASET.NUM_PARALLEL_CALLS = args.parallel_calls
    rows = []
    for repeat in range(args.repeats):
        bare = bare_seconds_per_step(config, args.steps, args.warmup)
        trainer = trainer_seconds_per_step(config, args.warmup)
        rows.append((repeat + 1, f"{bare * 1000:.1f}", f"{trainer * 1000:.1f}", f"{(trainer / bare - 1) * 100:+.1f}%"))
    parallel_calls = config.DATASET.NUM_PARALLEL_CALLS or "tuned by tf.data"
    print(f"\nLmnetV1Quantize, batch {config.BATCH_SIZE}, {config.IMAGE_SIZE[0]}x{config.IMAGE_SIZE[1]}, "
          f"{args.steps - args.warmup} timed steps, parallel calls {parallel_calls}")
    print_table(["run", "bare tf.function (ms/step)", "trainer (ms/step)", "overhead"], rows)


if __name__ == "__main__":
    main()
