"""A fingerprint of training: the weights after a few steps of the example classifier and quantized detector.

Training is deterministic, so a refactor that must not change the numbers (the issue-13 redesign, for
example) can be checked in minutes instead of by rerunning the 50-minute README demo: run this on the
commit before and after, and compare the digests. Both examples train from scratch (the detector's
``IS_PRETRAIN`` is switched off) for ``--steps`` steps with the cosine over those steps.

    python -m benchmarks.training_fingerprint [--steps 40]

Prints a table of the digest (sha256 of every model weight, in name order, first 16 hex digits) and
the final training loss of each, with the wall and CPU seconds.
"""
import argparse
import hashlib
import os
import time

import numpy as np

from benchmarks.common import REPO, load_config, print_table, scratch_environment
from lmnet import experiment
from lmnet.checkpoint_io import weight_map
from lmnet.training.trainer import Trainer

EXAMPLES = {"classifier": "configs/example/classification.py",
            "quantized detector": "configs/example/object_detection.py"}


def digest(model):
    """sha256 over the model's weights (names and values, in name order), first 16 hex digits."""
    hashed = hashlib.sha256()
    for name, variable in sorted(weight_map(model).items()):
        hashed.update(name.encode())
        hashed.update(np.ascontiguousarray(variable.numpy()).tobytes())
    return hashed.hexdigest()[:16]


def fingerprint(name, path, steps):
    """``[name, digest, last loss, wall s, CPU s]`` after ``steps`` steps of the config at ``path``."""
    config = load_config(os.path.join(REPO, path), MAX_STEPS=steps, SAVE_CHECKPOINT_STEPS=steps, TEST_STEPS=steps,
                         IS_PRETRAIN=False)
    config.NETWORK.LEARNING_RATE_KWARGS["decay_steps"] = steps
    environment = scratch_environment()
    paths = environment.experiment("fingerprint")
    experiment.prepare(config, None, paths, log=lambda *_: None)
    wall, cpu = time.perf_counter(), time.process_time()
    trainer = Trainer(config, paths, environment.data_dir, progress=False, log=lambda *_: None)
    results = trainer.run()
    return [name, digest(trainer.network.model), f"{results['loss']:.6f}", f"{time.perf_counter() - wall:.0f}",
            f"{time.process_time() - cpu:.0f}"]


def main():
    """Trains each example and prints the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    args = parser.parse_args()
    rows = [fingerprint(name, path, args.steps) for name, path in EXAMPLES.items()]
    print_table(["example", "weights sha256[:16]", "validation loss", "wall s", "CPU s"], rows)


if __name__ == "__main__":
    main()
