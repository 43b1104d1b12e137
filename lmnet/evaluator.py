"""Evaluating a trained experiment: restore a checkpoint, run the validation subset, write metrics."""
import datetime
import math
import os

from lmnet import builders, outputs, pipeline
from lmnet.checkpoint_io import checkpoint_step
from lmnet.experiment import open_experiment
from lmnet.evaluation import evaluate
from lmnet.reports.network_views import FEATURE_MAPS_PNG, feature_maps_section
from lmnet.summaries import SummaryWriters
from lmnet.tasks import get_task

#: The metrics file that ``evaluate.py`` writes into its output folder.
EVALUATE_JSON = "evaluate.json"


def _json_number(value):
    """A float for JSON, ``None`` for NaN (JSON has no NaN)."""
    value = float(value)
    return None if math.isnan(value) else value


def _claim_output_folder(paths, output_dir, overwrite, log, report_files):
    """Claims ``output_dir`` (default ``<experiment>/evaluate``, where each evaluation replaces the last) for
    ``evaluate.json`` and the ``report_files``."""
    output_dir = output_dir or paths.evaluate
    default = os.path.abspath(output_dir) == os.path.abspath(paths.evaluate)
    owned_files = (EVALUATE_JSON, FEATURE_MAPS_PNG, *report_files)
    outputs.claim_output_folder(output_dir, "evaluate", owned_files, overwrite=overwrite or default,
                                owned=default, log=log)
    return output_dir


def evaluate_experiment(environment, experiment_id, restore_path=None, config_file=None, network=None, dataset=None,
                        output_dir=None, progress=True, overwrite=False, log=print, overrides=()):
    """Evaluates a checkpoint of an experiment on the validation subset.

    The experiment is opened by :func:`lmnet.experiment.open_experiment` (``config_file``, ``network``,
    ``dataset`` and ``overrides`` as there; ``restore_path`` default: the newest checkpoint).

    Writes ``evaluate.json`` (metrics, checkpoint, date) and the task's report (its plots,
    ``report_data.json`` and ``report.html``, see :meth:`lmnet.tasks.Task.write_report`) into ``output_dir`` (default
    ``<experiment>/evaluate``, where each evaluation replaces the last), and the metrics to TensorBoard
    ``tensorboard/evaluate``. Another ``output_dir`` that already holds results is refused unless
    ``overwrite`` (see :func:`lmnet.outputs.claim_output_folder`); ``log`` names what is replaced.

    Detection metrics add their per-class AP to the JSON (``per_class_ap``, ``null`` for a class
    without ground truth) and return their per-class table as the report text.

    Returns:
        ``(metrics dict, path of the JSON file, report text or None, path of report.html)``.
    """
    opened = open_experiment(environment, experiment_id, config_file, restore_path, network=network, dataset=dataset,
                             overrides=overrides)
    paths, config = opened.paths, opened.config
    task = get_task(config.TASK)
    output_dir = _claim_output_folder(paths, output_dir, overwrite, log, task.report_files())  # before the evaluation
    network, dataset, checkpoint = opened.network, opened.dataset, opened.checkpoint
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
    views = [section for section in (feature_maps_section(network.model, batched),) if section is not None]
    html_path = task.write_report(output_dir, accumulator, dataset, config.CLASSES, report, extra_sections=views)
    report_text = accumulator.summary() if hasattr(accumulator, "summary") else None
    return metrics, json_path, report_text, html_path
