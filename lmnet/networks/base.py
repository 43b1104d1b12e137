"""The common base of every network.

A network object holds its hyperparameters (the config's ``NETWORK.*`` keys, lower-cased) and
builds a Keras 3 functional model. Training uses :meth:`BaseNetwork.compute_loss`; the model
output (``BaseNetwork.model``) is what export and predict see.
"""
import warnings

import keras
import tensorflow as tf

from lmnet.errors import ConfigError
from lmnet.quantizations import quantizer_name


class BaseNetwork:
    """Base of all networks.

    Class attributes:
        task: the :class:`lmnet.common.Tasks` value.
        quantized: whether the network uses quantizers (then they are required).
        size_divisor: height and width must be multiples of this.
        default_quantize_first_convolution / default_quantize_last_convolution: defaults of the
            two quantization switches.

    Args:
        classes: class names.
        image_size: ``(height, width)``.
        batch_size: batch size (informative; models accept any batch).
        data_format: only ``"NHWC"``.
        optimizer_class: a ``keras.optimizers.Optimizer`` subclass.
        optimizer_kwargs: its keyword arguments (``learning_rate`` unless a schedule is given).
        learning_rate_func: a ``keras.optimizers.schedules.LearningRateSchedule`` subclass or ``None``.
        learning_rate_kwargs: its keyword arguments.
        weight_decay_rate: factor of the L2 penalty ``sum(kernel**2) / 2`` over all kernels.
        activation_quantizer: a registered quantizer, or ``None``.
        activation_quantizer_kwargs: its keyword arguments.
        weight_quantizer: a registered quantizer, or ``None``.
        weight_quantizer_kwargs: its keyword arguments.
        quantize_first_convolution: quantize the first convolution's kernel.
        quantize_last_convolution: quantize the last convolution's kernel.
        is_debug: build extra summaries.
    """

    task = None
    quantized = False
    size_divisor = 1
    default_quantize_first_convolution = True
    default_quantize_last_convolution = False

    def __init__(self, classes, image_size, batch_size=None, data_format="NHWC", optimizer_class=None,
                 optimizer_kwargs=None, learning_rate_func=None, learning_rate_kwargs=None, weight_decay_rate=0.0,
                 activation_quantizer=None, activation_quantizer_kwargs=None, weight_quantizer=None,
                 weight_quantizer_kwargs=None, quantize_first_convolution=None, quantize_last_convolution=None,
                 is_debug=False):
        self.classes = list(classes)
        self.image_size = tuple(image_size)
        self.batch_size = batch_size
        if data_format != "NHWC":
            raise ConfigError(f"DATA_FORMAT: only 'NHWC' is supported, got '{data_format}'")
        self.data_format = data_format
        self.check_image_size(self.image_size)
        self.optimizer_class = optimizer_class or keras.optimizers.SGD
        self.optimizer_kwargs = dict(optimizer_kwargs or {})
        self.learning_rate_func = learning_rate_func
        self.learning_rate_kwargs = dict(learning_rate_kwargs or {})
        self.weight_decay_rate = float(weight_decay_rate or 0.0)
        self.is_debug = is_debug
        self.activation_quantizer = self._quantizer_spec("ACTIVATION_QUANTIZER", activation_quantizer,
                                                         activation_quantizer_kwargs)
        self.weight_quantizer = self._quantizer_spec("WEIGHT_QUANTIZER", weight_quantizer, weight_quantizer_kwargs)
        self.quantize_first_convolution = (self.default_quantize_first_convolution
                                           if quantize_first_convolution is None else quantize_first_convolution)
        self.quantize_last_convolution = (self.default_quantize_last_convolution
                                          if quantize_last_convolution is None else quantize_last_convolution)
        self._model = None

    @property
    def num_classes(self):
        """Number of classes."""
        return len(self.classes)

    @classmethod
    def check_image_size(cls, image_size):
        """Raises :class:`ConfigError` when this network cannot take ``image_size``."""
        if len(image_size) != 2 or any(int(s) <= 0 or int(s) % cls.size_divisor for s in image_size):
            raise ConfigError(f"IMAGE_SIZE: {cls.__name__} needs [height, width] divisible by {cls.size_divisor}, "
                              f"got {list(image_size)}")

    def _quantizer_spec(self, key, quantizer, kwargs):
        """Checks a quantizer setting against ``quantized`` and returns ``(name, kwargs)`` or ``None``."""
        name = type(self).__name__
        if quantizer is None:
            if self.quantized:
                raise ConfigError(f"NETWORK.{key}: {name} is a quantized network and needs a quantizer")
            return None
        if not self.quantized:
            warnings.warn(f"NETWORK.{key}: {name} is a float network; the quantizer is ignored", stacklevel=3)
            return None
        return quantizer_name(quantizer), dict(kwargs or {})

    def first_weight_quantizer(self):
        """Weight quantizer of the first convolution (``None`` when it stays float)."""
        return self.weight_quantizer if self.quantize_first_convolution else None

    def last_weight_quantizer(self):
        """Weight quantizer of the last convolution (``None`` when it stays float)."""
        return self.weight_quantizer if self.quantize_last_convolution else None

    @property
    def model(self):
        """The Keras model (built on first use)."""
        if self._model is None:
            self._model = self.build_model()
        return self._model

    def build_model(self):
        """Builds and returns the Keras model."""
        raise NotImplementedError

    def compute_loss(self, targets, outputs, model, step=None):
        """Returns the training loss (including weight decay) for ``outputs`` of the training model.

        Args:
            targets: the batch's targets (labels, or ground-truth boxes).
            outputs: the training model's outputs.
            model: the training model (its kernels are weight-decayed).
            step: the optimizer's step counter, for losses that change over training.
        """
        raise NotImplementedError

    def weight_decay(self, model):
        """``weight_decay_rate * sum(kernel**2) / 2`` over every kernel of ``model``."""
        if not self.weight_decay_rate:
            return tf.constant(0.0)
        kernels = [v.value for v in model.trainable_variables if v.name == "kernel"]
        return self.weight_decay_rate * tf.add_n([tf.nn.l2_loss(k) for k in kernels])

    def create_metrics(self, dataset):
        """A fresh accumulator of evaluation metrics for ``dataset`` (``update(targets, outputs)``,
        ``result()``)."""
        raise NotImplementedError

    def summary_images(self, images, targets, outputs):
        """Images for TensorBoard showing predictions on a validation batch (``None``: nothing to show).

        Args:
            images: pre-processed input batch (NumPy).
            targets: the batch's targets (NumPy).
            outputs: the training model's outputs for the batch (NumPy).

        Returns:
            A list of RGB ``uint8`` images, or ``None``.
        """
        return None

    def create_optimizer(self):
        """Creates the optimizer, with the learning-rate schedule when one is configured.

        Raises:
            ConfigError: the optimizer or schedule rejects its arguments.
        """
        kwargs = dict(self.optimizer_kwargs)
        if self.learning_rate_func is not None:
            try:
                kwargs["learning_rate"] = self.learning_rate_func(**self.learning_rate_kwargs)
            except (TypeError, ValueError) as error:
                raise ConfigError(f"NETWORK.LEARNING_RATE_KWARGS: {error}") from None
        try:
            return self.optimizer_class(**kwargs)
        except (TypeError, ValueError) as error:
            raise ConfigError(f"NETWORK.OPTIMIZER_KWARGS: {error}") from None
