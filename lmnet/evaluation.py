"""Evaluating a network over a finite ``tf.data`` dataset (validation during training and evaluate.py)."""
import re

import tensorflow as tf
from tqdm import tqdm

from lmnet.errors import DatasetError, LmnetError

_ERROR_PATTERN = re.compile(r"(DatasetError|ConfigError|LmnetError): ([^\n]*)")


def make_eval_step(network):
    """Returns a ``tf.function`` ``(images, targets) -> (loss, outputs)`` in inference mode."""
    model = network.training_model

    @tf.function
    def eval_step(images, targets):
        outputs = model(images, training=False)
        return network.compute_loss(targets, outputs, model), outputs
    return eval_step


def evaluate(network, dataset, eval_step=None, description="evaluate", progress=True, source=None, metrics=None):
    """Runs the network over every batch of ``dataset`` and returns the mean loss and metrics.

    Args:
        network: the network (its ``create_metrics()`` accumulates the metrics).
        dataset: a finite ``tf.data.Dataset`` of ``(images, targets)``.
        source: the :class:`lmnet.datasets.base.Dataset` behind ``dataset`` (detection metrics read
            its full annotations, e.g. difficult flags).
        metrics: the accumulator to fill (default ``network.create_metrics(source)``).
        eval_step: a step from :func:`make_eval_step` (made when ``None``).
        description: label of the progress bar.
        progress: show a progress bar.

    Returns:
        ``{"loss": …, <metric>: …}`` as Python floats.
    """
    eval_step = eval_step or make_eval_step(network)
    metrics = metrics or network.create_metrics(source)
    loss_sum, count = 0.0, 0
    bar = tqdm(desc=description, unit="batch", disable=not progress, leave=False,
               total=int(dataset.cardinality()) if dataset.cardinality() > 0 else None)
    for images, targets in batches(dataset):
        loss, outputs = eval_step(images, targets)
        size = int(images.shape[0])
        loss_sum += float(loss) * size
        count += size
        metrics.update(targets.numpy(), outputs.numpy())
        bar.update(1)
    bar.close()
    results = {"loss": loss_sum / max(count, 1)}
    results.update(metrics.result())
    return {key: float(value) for key, value in results.items()}


def batches(dataset):
    """Iterates a ``tf.data`` dataset, turning errors raised in the NumPy loaders back into lmnet errors."""
    iterator = iter(dataset)
    while True:
        try:
            yield next(iterator)
        except StopIteration:
            return
        except tf.errors.OpError as error:
            raise translate_op_error(error) from None


def translate_op_error(error):
    """An lmnet error raised inside ``tf.numpy_function`` arrives wrapped; recover its message."""
    match = _ERROR_PATTERN.search(str(error.message))
    if match is None:
        return error
    error_class = DatasetError if match.group(1) == "DatasetError" else LmnetError
    return error_class(match.group(2).strip())
