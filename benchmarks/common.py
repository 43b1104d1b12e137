"""Helpers shared by the benchmark scripts."""
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from lmnet import config as config_module, experiment  # noqa: E402
from lmnet.environment import Environment  # noqa: E402
from lmnet.training.trainer import Trainer  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE_CLASSIFICATION = os.path.join(REPO, "configs", "example", "classification.py")


def load_config(path, network=None, **overrides):
    """Loads a config, applies top-level ``overrides`` and re-validates it."""
    config = config_module.load(path, network=network)
    config.update(overrides)
    return config_module.validate(dict(config))


def float_variant(config):
    """The config with the quantizers removed (for the float network of the same family)."""
    network = dict(config.NETWORK)
    for key in ("ACTIVATION_QUANTIZER", "ACTIVATION_QUANTIZER_KWARGS", "WEIGHT_QUANTIZER", "WEIGHT_QUANTIZER_KWARGS"):
        network[key] = None
    return config_module.validate(dict(config, NETWORK=network))


def scratch_environment():
    """An Environment whose OUTPUT_DIR is a fresh temporary folder."""
    return Environment(output_dir=tempfile.mkdtemp(prefix="lmnet-bench-"), data_dir=os.path.join(REPO, "dataset"))


def print_table(headers, rows):
    """Prints a markdown table."""
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    print("| " + " | ".join(str(h).ljust(w) for h, w in zip(headers, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths)) + " |")


class RecordingTrainer(Trainer):
    """A trainer that records ``(step, seconds since start, validation metrics)`` at each validation."""

    def run(self):
        """Trains, recording every validation in ``self.records``."""
        self.records = []
        self.started = time.perf_counter()
        return super().run()

    def validate(self, step):
        """Validates and records the result with the elapsed time."""
        results = super().validate(step)
        self.records.append((step, time.perf_counter() - self.started, results))
        return results


def train_recording(name, config, environment):
    """Trains ``config`` as experiment ``name`` and returns the validation records."""
    paths = environment.experiment(name)
    experiment.prepare(config, None, paths, log=lambda *_: None)
    trainer = RecordingTrainer(config, paths, environment.data_dir, progress=False, log=lambda *_: None)
    trainer.run()
    return trainer.records


def report_records(name, records, metric, extra_header=""):
    """Prints the validation records of one run as a table of step, wall time and ``metric``."""
    print(f"\n{name}{extra_header}")
    print_table(["step", "wall time (s)", metric],
                [(step, f"{seconds:.0f}", f"{results[metric]:.4f}") for step, seconds, results in records])


def target_row(name, records, metric, target, budget_s):
    """One summary row: final value, total time, time to reach ``target``, and whether that was within budget."""
    reached = [seconds for _, seconds, results in records if results[metric] >= target]
    _, final_seconds, final = records[-1]
    return (name, f"{final[metric]:.4f}", f"{final_seconds:.0f}", target,
            f"{reached[0]:.0f}" if reached else "not reached", "yes" if reached and reached[0] <= budget_s else "no")


TARGET_HEADERS = ["network", "final", "total s", "target", "s to target", "target within budget"]
