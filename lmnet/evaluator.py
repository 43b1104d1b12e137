"""Evaluating a trained experiment: restore a checkpoint, run the validation subset, write metrics."""
import datetime
import math
import os

from lmnet import builders, outputs, pipeline
from lmnet.errors import ExperimentError
from lmnet.training.checkpoints import check_checkpoint, latest_checkpoint, restore_weights
from lmnet.training.evaluation import evaluate
from lmnet.training.summaries import SummaryWriters

#: The metrics file that ``evaluate.py`` writes into its output folder.
EVALUATE_JSON = "evaluate.json"


def _json_number(value):
    """A float for JSON, ``None`` for NaN (JSON has no NaN)."""
    value = float(value)
    return None if math.isnan(value) else value


def checkpoint_step(path):
    """The step number at the end of a ``save.ckpt-<step>`` path (0 when there is none)."""
    suffix = os.path.basename(path).rsplit("-", 1)[-1]
    return int(suffix) if suffix.isdigit() else 0


def resolve_checkpoint(paths, restore_path=None):
    """``restore_path`` or the experiment's newest checkpoint, checked to be a readable checkpoint.

    Raises:
        ExperimentError: there is no checkpoint, or ``restore_path`` (or the newest one) is missing, a
            folder, or not a readable TensorFlow checkpoint
            (see :func:`lmnet.training.checkpoints.check_checkpoint`).
    """
    path = restore_path or latest_checkpoint(paths.checkpoints)
    if path is None:
        raise ExperimentError(f"no checkpoint in {paths.checkpoints}; train first or pass --restore_path")
    check_checkpoint(path)
    return path


def evaluate_experiment(config, paths, data_dir, restore_path=None, output_dir=None, progress=True, overwrite=False,
                        log=print):
    """Evaluates a checkpoint of an experiment on the validation subset.

    Writes ``evaluate.json`` (metrics, checkpoint, date) into ``output_dir`` (default
    ``<experiment>/evaluate``, where each evaluation replaces the last) and the metrics to TensorBoard
    ``tensorboard/evaluate``. Another ``output_dir`` that already holds results is refused unless
    ``overwrite`` (see :func:`lmnet.outputs.claim_output_folder`); ``log`` names what is replaced.

    Detection metrics add their per-class AP to the JSON (``per_class_ap``, ``null`` for a class
    without ground truth) and return their per-class table as the report text.

    Returns:
        ``(metrics dict, path of the JSON file, report text or None)``.
    """
    checkpoint = resolve_checkpoint(paths, restore_path)
    output_dir = output_dir or paths.evaluate
    default = os.path.abspath(output_dir) == os.path.abspath(paths.evaluate)  # each evaluation replaces the last
    outputs.claim_output_folder(output_dir, "evaluate", (EVALUATE_JSON,), overwrite=overwrite or default,
                                owned=default, log=log)
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
    report = {"experiment": paths.experiment_id, "checkpoint": checkpoint, "step": step,
              "dataset": config.DATASET_CLASS.__name__, "subset": "validation", "num_samples": len(dataset),
              "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
              "metrics": {name: _json_number(value) for name, value in metrics.items()}}
    if getattr(accumulator, "per_class_ap", None):
        report["per_class_ap"] = {name: _json_number(ap) for name, ap in accumulator.per_class_ap.items()}
    json_path = os.path.join(output_dir, EVALUATE_JSON)
    outputs.write_json(json_path, report)
    report_text = accumulator.summary() if hasattr(accumulator, "summary") else None
    return metrics, json_path, report_text
