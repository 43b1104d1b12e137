"""Evaluating a trained experiment: restore a checkpoint, run the validation subset, write metrics."""
import datetime
import json
import math
import os

from lmnet import builders, pipeline
from lmnet.errors import ExperimentError
from lmnet.training.checkpoints import latest_checkpoint, restore_weights
from lmnet.training.evaluation import evaluate
from lmnet.training.summaries import SummaryWriters


def _json_number(value):
    """A float for JSON, ``None`` for NaN (JSON has no NaN)."""
    value = float(value)
    return None if math.isnan(value) else value


def checkpoint_step(path):
    """The step number at the end of a ``save.ckpt-<step>`` path (0 when there is none)."""
    suffix = os.path.basename(path).rsplit("-", 1)[-1]
    return int(suffix) if suffix.isdigit() else 0


def resolve_checkpoint(paths, restore_path=None):
    """``restore_path`` or the experiment's newest checkpoint.

    Raises:
        ExperimentError: there is no checkpoint.
    """
    path = restore_path or latest_checkpoint(paths.checkpoints)
    if path is None:
        raise ExperimentError(f"no checkpoint in {paths.checkpoints}; train first or pass --restore_path")
    return path


def evaluate_experiment(config, paths, data_dir, restore_path=None, output_dir=None, progress=True):
    """Evaluates a checkpoint of an experiment on the validation subset.

    Writes ``evaluate.json`` (metrics, checkpoint, date) into ``output_dir`` (default
    ``<experiment>/evaluate``) and the metrics to TensorBoard ``tensorboard/evaluate``.

    Detection metrics add their per-class AP to the JSON (``per_class_ap``, ``null`` for a class
    without ground truth) and return their per-class table as the report text.

    Returns:
        ``(metrics dict, path of the JSON file, report text or None)``.
    """
    checkpoint = resolve_checkpoint(paths, restore_path)
    dataset = builders.build_dataset(config, data_dir, "validation")
    network = builders.build_network(config, builders.dataset_classes(config, dataset))
    restore_weights(network.model, checkpoint)
    processor = builders.build_processor(config, dataset, training=False)
    batched = pipeline.eval_dataset(processor, config.BATCH_SIZE, prefetch=config.DATASET.ENABLE_PREFETCH)
    accumulator = network.create_metrics(dataset)
    metrics = evaluate(network, batched, description="evaluate", progress=progress, source=dataset,
                       metrics=accumulator)
    step = checkpoint_step(checkpoint)
    writers = SummaryWriters(paths.tensorboard)
    writers.scalars("evaluate", step, metrics)
    writers.close()
    output_dir = output_dir or os.path.join(paths.root, "evaluate")
    os.makedirs(output_dir, exist_ok=True)
    report = {"experiment": paths.experiment_id, "checkpoint": checkpoint, "step": step,
              "dataset": config.DATASET_CLASS.__name__, "subset": "validation", "num_samples": len(dataset),
              "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
              "metrics": {name: _json_number(value) for name, value in metrics.items()}}
    if getattr(accumulator, "per_class_ap", None):
        report["per_class_ap"] = {name: _json_number(ap) for name, ap in accumulator.per_class_ap.items()}
    json_path = os.path.join(output_dir, "evaluate.json")
    with open(json_path, "w") as stream:
        json.dump(report, stream, indent=2)
    report_text = accumulator.summary() if hasattr(accumulator, "summary") else None
    return metrics, json_path, report_text
