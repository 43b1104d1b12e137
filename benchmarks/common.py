"""Helpers shared by the benchmark scripts."""
import collections
import os
import resource
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


def cpu_seconds():
    """User + system CPU time of this process (all threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


#: One validation of a recorded run: its step, wall seconds and process CPU-seconds (user + system) since the
#: start of training, and the validation metrics.
Record = collections.namedtuple("Record", "step seconds cpu_seconds results")


class RecordingTrainer(Trainer):
    """A trainer that records a :data:`Record` at each validation."""

    def run(self):
        """Trains, recording every validation in ``self.records``."""
        self.records = []
        self.started, self.cpu_started = time.perf_counter(), cpu_seconds()
        return super().run()

    def validate(self, step):
        """Validates and records the result with the elapsed wall and CPU time."""
        results = super().validate(step)
        self.records.append(Record(step, time.perf_counter() - self.started, cpu_seconds() - self.cpu_started,
                                   results))
        return results


def train_recording(name, config, environment):
    """Trains ``config`` as experiment ``name`` and returns the validation records."""
    paths = environment.experiment(name)
    experiment.prepare(config, None, paths, log=lambda *_: None)
    trainer = RecordingTrainer(config, paths, environment.data_dir, progress=False, log=lambda *_: None)
    trainer.run()
    return trainer.records


def report_records(name, records, metric, extra_header=""):
    """Prints the validation records of one run as a table of step, wall time, CPU-seconds and ``metric``."""
    print(f"\n{name}{extra_header}")
    print_table(["step", "wall time (s)", "CPU-s (user + system)", metric],
                [(record.step, f"{record.seconds:.0f}", f"{record.cpu_seconds:.0f}",
                  f"{record.results[metric]:.4f}") for record in records])


def target_row(name, records, metric, target, budget_s):
    """One summary row: final value, total wall time and CPU-seconds, wall time to reach ``target``, and whether
    that was within the (wall-time) budget."""
    reached = [record.seconds for record in records if record.results[metric] >= target]
    final = records[-1]
    return (name, f"{final.results[metric]:.4f}", f"{final.seconds:.0f}", f"{final.cpu_seconds:.0f}", target,
            f"{reached[0]:.0f}" if reached else "not reached", "yes" if reached and reached[0] <= budget_s else "no")


TARGET_HEADERS = ["network", "final", "total s", "total CPU-s", "target", "s to target", "target within budget"]
