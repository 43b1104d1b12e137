"""How closely each export form reproduces the Keras model (``parity.json``).

The forms are the export formats of :data:`lmnet.runtime.layout.EXPORT_FORMATS`, by their names;
``parity.json`` lists those the export wrote.
"""

import numpy as np

from lmnet.outputs import write_json
from lmnet.metrics.classification import ClassificationMetrics
from lmnet.metrics.detection import DetectionMetrics
from lmnet.runtime.layout import FORMAT_NAMES
from lmnet.tasks import get_task

#: The forms, in the order ``parity.json`` and the printed table list them: the export format names.
FORMS = FORMAT_NAMES
#: The form whose task metric must stay near the Keras model's (``int8_task``, ``int8_float_ops``).
INT8_FORM = "tflite_int8"
#: The forms whose task metric is compared with the Keras model's on a validation sample (``--metric_samples``
#: for int8, ``--emulation_samples`` for hls4ml; ``parity.json`` key :func:`task_key`): they compute something
#: else (int8) or run slowly (hls4ml's emulation), so a few images cannot show what they predict.
TASK_FORMS = (INT8_FORM, "hls4ml")
#: How a form is called in the keys of its task report.
FORM_LABELS = {INT8_FORM: "int8"}
#: The largest drop of the task metric (accuracy, or VOC mAP@0.5) the int8 model may show against the Keras
#: model before the export fails. int8 rounds every tensor, so it is judged by what it predicts, not by values.
INT8_MAX_DROP = 0.1


def run_batch(run, images, progress=None):
    """Runs a batch-1 form ``run(image [1, H, W, 3])`` over ``images`` ``[N, H, W, 3]``; returns ``[N, ...]``.

    ``progress``: a description shows a progress bar (on a terminal) while the images run.
    """
    from tqdm import tqdm
    bar = tqdm(images, desc=progress, unit="image", leave=False, disable=None if progress else True)
    return np.concatenate([np.asarray(run(image[None])) for image in bar], axis=0)


def max_abs_diffs(reference, runners, images):
    """``{form: max |form output - reference output|}`` over ``images``.

    Args:
        reference: ``f(image) -> output`` of the Keras model.
        runners: ``{form: f(image) -> output}``.
        images: float32 ``[N, H, W, 3]``.
    """
    expected = run_batch(reference, images)
    return {form: float(np.max(np.abs(run_batch(run, images) - expected))) for form, run in runners.items()}


def form_label(form):
    """The name of ``form`` in its task report's keys (``int8`` for ``tflite_int8``)."""
    return FORM_LABELS.get(form, form)


def task_key(form):
    """The ``parity.json`` key of a form's task report: ``int8_task``, ``hls4ml_task``."""
    return f"{form_label(form)}_task"


def classification_change(float_outputs, form_outputs, labels, form=INT8_FORM):
    """Top-1 agreement of the Keras model and a form, and their accuracies on ``labels``."""
    labels = np.asarray(labels).reshape(-1)
    label = form_label(form)
    results = {}
    for name, outputs in (("float", float_outputs), (label, form_outputs)):
        metrics = ClassificationMetrics(top_k=1)
        metrics.update(labels, outputs)
        results[f"{name}_accuracy"] = metrics.result()["accuracy"]
    agreement = np.argmax(float_outputs, axis=-1) == np.argmax(form_outputs, axis=-1)
    results["top1_agreement"] = float(np.mean(agreement)) if len(agreement) else float("nan")
    results["accuracy_change"] = results[f"{label}_accuracy"] - results["float_accuracy"]
    results["largest_margin_flipped"] = largest_margin_flipped(float_outputs, agreement)
    return results


def largest_margin_flipped(float_outputs, agreement):
    """The largest gap between the Keras model's best and second-best class score among the images whose top-1
    class the form changed (0 when none changed): a flip within a gap smaller than the form's numeric error is
    a near-tie, not a wrong prediction."""
    if len(float_outputs) == 0 or np.all(agreement) or np.shape(float_outputs)[-1] < 2:
        return 0.0
    ordered = np.sort(np.asarray(float_outputs, np.float64).reshape(len(agreement), -1), axis=-1)
    gaps = ordered[:, -1] - ordered[:, -2]
    return float(np.max(gaps[~np.asarray(agreement)]))


def detection_map(outputs, targets, dataset, post_processor, classes, image_size):
    """VOC mAP at IoU 0.5 of raw outputs ``[N, ...]`` of the first ``N`` samples of ``dataset``."""
    metrics = DetectionMetrics(dataset, post_processor=post_processor, classes=classes, input_size=image_size,
                               use_coco=False)
    metrics.update(np.asarray(targets), outputs)
    return float(metrics.result()["mAP@0.5"])


def detection_change(float_outputs, form_outputs, targets, dataset, post_processor, classes, image_size,
                     form=INT8_FORM):
    """mAP@0.5 of the Keras model and a form, and its change."""
    float_map = detection_map(float_outputs, targets, dataset, post_processor, classes, image_size)
    form_map = detection_map(form_outputs, targets, dataset, post_processor, classes, image_size)
    return {"float_mAP@0.5": float_map, f"{form_label(form)}_mAP@0.5": form_map, "mAP@0.5_change": form_map - float_map}


def task_change(task, float_run, form_run, images, targets, form, dataset=None, post_processor=None, classes=None,
                image_size=None):
    """The task metric of the Keras model against an export form on a validation sample.

    Args:
        task: :class:`lmnet.common.Tasks` value.
        float_run: ``f(image) -> output`` of the Keras model.
        form_run: ``f(image) -> output`` of the form.
        images: pre-processed validation images ``[N, H, W, 3]`` (the first ``N`` of ``dataset``).
        targets: their targets (labels, or padded ground-truth boxes).
        form: the form's name (:data:`TASK_FORMS`).
        dataset: the validation dataset (detection).
        post_processor: the detection post-processor.
        classes: class names (detection).
        image_size: network input size (detection).

    Returns:
        A dict of metric values with ``num_samples``.
    """
    float_outputs = run_batch(float_run, images)
    form_outputs = run_batch(form_run, images, progress=f"{form_label(form)} task metric")
    context = {"dataset": dataset, "post_processor": post_processor, "classes": classes, "image_size": image_size}
    result = get_task(task).form_change(float_outputs, form_outputs, targets, context, form)
    result["num_samples"] = int(len(images))
    return result


def failures(parity, output_scale):
    """``{form: message}`` of the forms that miss their tolerance.

    A form with a per-layer report fails at its first layer past :data:`lmnet.export.layer_parity.TOLERANCES`;
    any other compared form (except int8) when its final output differs by more than that relative tolerance
    times ``output_scale`` (``max(1, max |Keras output|)``); the int8 form when its task metric drops by more than
    :data:`INT8_MAX_DROP`.
    """
    from lmnet.export.layer_parity import TOLERANCES
    failed = {}
    for form, report in parity.get("layers", {}).items():
        first = report.get("first_over_tolerance")
        if first is not None:
            levels = "" if first["level_mismatch"] is None else \
                f", {100 * first['level_mismatch']:.2f}% of its values on another level"
            failed[form] = (f"{form} misses its tolerance first at layer {first['layer']} "
                            f"(max |diff| {first['max_abs_diff']:.3g}{levels})")
    for form, value in parity["max_abs_diff"].items():
        if form in failed or form not in TOLERANCES or value is None:
            continue
        if value > TOLERANCES[form].relative * output_scale:
            failed[form] = f"{form} misses its tolerance at the output (max |diff| {value:.3g})"
    change = next((value for key, value in parity.get("int8_task", {}).items() if key.endswith("_change")), None)
    if change is not None and change < -INT8_MAX_DROP:
        failed[INT8_FORM] = f"{INT8_FORM} loses {-change:.3f} of its task metric (limit {INT8_MAX_DROP})"
    return failed


def write_parity(path, data):
    """Writes ``parity.json`` (NaN as ``null``)."""
    write_json(path, _json_safe(data))


def _json_safe(value):
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


def format_table(parity):
    """A short text table: one line per compared form (max abs difference of the output, layers compared, the
    first layer past its tolerance), then the int8 task metrics and the failures."""
    lines = [f"{'form':<14}{'max |diff| vs Keras':>22}  {'layers':>6}  first layer past tolerance"]
    for form in (form for form in FORMS if form in parity["max_abs_diff"]):
        value = parity["max_abs_diff"][form]
        text = "skipped" if value is None else f"{value:.3g}"
        report = parity.get("layers", {}).get(form)
        layers = str(len(report["layers"])) if report else "-"
        first = (report or {}).get("first_over_tolerance")
        verdict = first["layer"] if first else ("none" if report and report["tolerance"] else "-")
        lines.append(f"{form:<14}{text:>22}  {layers:>6}  {verdict}")
    for form in TASK_FORMS:
        for key, value in parity.get(task_key(form), {}).items():
            text = str(value) if isinstance(value, int) else f"{value:.4f}"
            lines.append(f"  {form_label(form)} {key}: {text}")
    for message in parity.get("failed", {}).values():
        lines.append(f"  FAILED: {message}")
    return "\n".join(lines)
