r"""An exponential moving average (EMA) of the model's weights, for evaluation and export.

With ``EMA_DECAY`` set, every training step ends with

.. math::

    d_t = \delta\,(1 - e^{-t / \tau}), \qquad \bar w_t = d_t\,\bar w_{t-1} + (1 - d_t)\,w_t

for every floating-point model variable :math:`w` (kernels, biases, batch-norm scales and offsets and
its moving statistics), where :math:`t` is the step, :math:`\delta` is ``EMA_DECAY`` and :math:`\tau` is
``EMA_RAMP_STEPS`` (the ramp lets the average follow the fast early changes; :math:`\bar w_0 = w_0`).
Training itself goes on with the raw weights :math:`w`; validation, the best-checkpoint choice and every
tool that reads a checkpoint (evaluate, export, predict, pre-training of a next stage) use :math:`\bar w`.

The averages are saved in every training checkpoint beside the raw weights, under ``averaged_weights``
with the same ``<layer>/<variable>`` keys, so a resumed run continues them exactly; see
:func:`lmnet.checkpoint_io.restore_weights` for how readers pick them.
"""
import contextlib

import tensorflow as tf

from lmnet.checkpoint_io import weight_map
from lmnet.errors import ConfigError


class WeightAverage:
    """The averages of a model's floating-point variables.

    Args:
        model: the Keras model whose variables are averaged (create it under the run's strategy scope).
        decay: :math:`\\delta`, in ``[0, 1)``.
        ramp_steps: :math:`\\tau` (> 0).
    """

    def __init__(self, model, decay, ramp_steps):
        self.decay = float(decay)
        self.ramp_steps = float(ramp_steps)
        self.variables = {key: variable for key, variable in weight_map(model).items() if _is_float(variable)}
        self.averages = {key: tf.Variable(variable.value, trainable=False, name=f"average/{key}")
                         for key, variable in self.variables.items()}

    def update(self, step):
        """Moves every average one step towards its variable (usable inside a ``tf.function``).

        Args:
            step: the number of updates applied so far (:math:`t`), a scalar tensor.
        """
        step = tf.cast(step, tf.float32)
        decay = self.decay * (1.0 - tf.exp(-step / self.ramp_steps))
        for key, variable in self.variables.items():
            average = self.averages[key]
            value = tf.cast(variable.value, average.dtype)
            average.assign(decay * average + (1.0 - decay) * value)

    @contextlib.contextmanager
    def swapped_in(self):
        """Holds the averages in the model's variables for the ``with`` body, then puts the raw weights back."""
        raw = {key: tf.identity(variable.value) for key, variable in self.variables.items()}
        try:
            for key, variable in self.variables.items():
                variable.assign(tf.cast(self.averages[key], variable.dtype))
            yield
        finally:
            for key, variable in self.variables.items():
                variable.assign(raw[key])


def _is_float(variable):
    return tf.as_dtype(variable.dtype).is_floating


def create_weight_average(config, model, distributed=False):
    """The run's :class:`WeightAverage` when ``EMA_DECAY`` is set, else ``None``.

    Raises:
        ConfigError: ``EMA_DECAY`` is 1 (the average would never move) or the run is distributed (not
            supported yet: the average would have to be updated in cross-replica context).
    """
    if config.EMA_DECAY is None:
        return None
    if config.EMA_DECAY >= 1.0:
        raise ConfigError(f"EMA_DECAY: expected a number in [0, 1), got {config.EMA_DECAY}")
    if distributed:
        raise ConfigError("EMA_DECAY is not supported with IS_DISTRIBUTION yet; unset one of them")
    return WeightAverage(model, config.EMA_DECAY, config.EMA_RAMP_STEPS)


@contextlib.contextmanager
def evaluation_weights(average):
    """``average.swapped_in()``, or nothing when there is no average."""
    if average is None:
        yield
    else:
        with average.swapped_in():
            yield
