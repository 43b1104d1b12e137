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
#: The form whose task metric is compared with the Keras model's (``int8_task``, ``int8_float_ops``).
INT8_FORM = "tflite_int8"


def run_batch(run, images):
    """Runs a batch-1 form ``run(image [1, H, W, 3])`` over ``images`` ``[N, H, W, 3]``; returns ``[N, ...]``."""
    return np.concatenate([np.asarray(run(image[None])) for image in images], axis=0)


def max_abs_diffs(reference, runners, images):
    """``{form: max |form output - reference output|}`` over ``images``.

    Args:
        reference: ``f(image) -> output`` of the Keras model.
        runners: ``{form: f(image) -> output}``.
        images: float32 ``[N, H, W, 3]``.
    """
    expected = run_batch(reference, images)
    return {form: float(np.max(np.abs(run_batch(run, images) - expected))) for form, run in runners.items()}


def classification_change(float_outputs, int8_outputs, labels):
    """Top-1 agreement of the two models and their accuracies on ``labels``."""
    labels = np.asarray(labels).reshape(-1)
    results = {}
    for name, outputs in (("float", float_outputs), ("int8", int8_outputs)):
        metrics = ClassificationMetrics(top_k=1)
        metrics.update(labels, outputs)
        results[f"{name}_accuracy"] = metrics.result()["accuracy"]
    agreement = np.argmax(float_outputs, axis=-1) == np.argmax(int8_outputs, axis=-1)
    results["top1_agreement"] = float(np.mean(agreement)) if len(agreement) else float("nan")
    results["accuracy_change"] = results["int8_accuracy"] - results["float_accuracy"]
    return results


def detection_map(outputs, targets, dataset, post_processor, classes, image_size):
    """VOC mAP at IoU 0.5 of raw outputs ``[N, ...]`` of the first ``N`` samples of ``dataset``."""
    metrics = DetectionMetrics(dataset, post_processor=post_processor, classes=classes, input_size=image_size,
                               use_coco=False)
    metrics.update(np.asarray(targets), outputs)
    return float(metrics.result()["mAP@0.5"])


def detection_change(float_outputs, int8_outputs, targets, dataset, post_processor, classes, image_size):
    """mAP@0.5 of the float and the int8 model and its change."""
    float_map = detection_map(float_outputs, targets, dataset, post_processor, classes, image_size)
    int8_map = detection_map(int8_outputs, targets, dataset, post_processor, classes, image_size)
    return {"float_mAP@0.5": float_map, "int8_mAP@0.5": int8_map, "mAP@0.5_change": int8_map - float_map}


def int8_task_change(task, float_run, int8_run, images, targets, dataset=None, post_processor=None, classes=None,
                     image_size=None):
    """The task metric of the Keras model against the int8 TFLite model on a validation sample.

    Args:
        task: :class:`lmnet.common.Tasks` value.
        float_run: ``f(image) -> output`` of the Keras model.
        int8_run: ``f(image) -> output`` of the int8 model.
        images: pre-processed validation images ``[N, H, W, 3]`` (the first ``N`` of ``dataset``).
        targets: their targets (labels, or padded ground-truth boxes).
        dataset: the validation dataset (detection).
        post_processor: the detection post-processor.
        classes: class names (detection).
        image_size: network input size (detection).

    Returns:
        A dict of metric values with ``num_samples``.
    """
    float_outputs, int8_outputs = run_batch(float_run, images), run_batch(int8_run, images)
    context = {"dataset": dataset, "post_processor": post_processor, "classes": classes, "image_size": image_size}
    result = get_task(task).int8_change(float_outputs, int8_outputs, targets, context)
    result["num_samples"] = int(len(images))
    return result


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
    """A short text table: one line per compared form with its max abs difference, then the int8 task metrics."""
    lines = [f"{'form':<14}{'max |diff| vs Keras':>22}"]
    for form in (form for form in FORMS if form in parity["max_abs_diff"]):
        value = parity["max_abs_diff"][form]
        text = "skipped" if value is None else f"{value:.3g}"
        lines.append(f"{form:<14}{text:>22}")
    for key, value in parity.get("int8_task", {}).items():
        text = str(value) if isinstance(value, int) else f"{value:.4f}"
        lines.append(f"  int8 {key}: {text}")
    return "\n".join(lines)
