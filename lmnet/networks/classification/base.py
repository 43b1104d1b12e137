"""Base of classification networks: softmax output, cross-entropy loss, accuracy metrics."""
import keras
import tensorflow as tf

from lmnet.common import Tasks
from lmnet.metrics.classification import ClassificationMetrics
from lmnet.networks.base import BaseNetwork


class ClassificationNetwork(BaseNetwork):
    """A classifier: subclasses implement :meth:`build_logits`.

    ``model`` outputs class probabilities (softmax); ``logits_model`` shares its layers and
    outputs the logits the loss is computed from.
    """

    task = Tasks.CLASSIFICATION

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._logits_model = None

    def build_logits(self, inputs):
        """Returns the logits tensor ``[batch, num_classes]`` for the Keras input ``inputs``."""
        raise NotImplementedError

    def build_model(self):
        """Builds the logits model and the softmax model that wraps it."""
        inputs = keras.Input(shape=(*self.image_size, 3), name="images")
        logits = self.build_logits(inputs)
        self._logits_model = keras.Model(inputs, logits, name=f"{type(self).__name__}_logits")
        probabilities = keras.layers.Softmax(name="output", dtype="float32")(logits)  # float32 under bf16 too
        return keras.Model(inputs, probabilities, name=type(self).__name__)

    @property
    def logits_model(self):
        """The model that outputs logits (training and loss use it)."""
        _ = self.model
        return self._logits_model

    @property
    def training_model(self):
        """The model whose output :meth:`compute_loss` takes."""
        return self.logits_model

    def compute_loss(self, labels, outputs, model, step=None):
        """Mean sparse softmax cross-entropy of the logits (in float32) plus weight decay (``step`` is unused)."""
        labels = tf.cast(labels, tf.int32)
        logits = tf.cast(outputs, tf.float32)
        cross_entropy = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
        return cross_entropy + self.weight_decay(model)

    def create_metrics(self, dataset=None):
        """A fresh accumulator of evaluation metrics (accuracy, top-5 accuracy)."""
        return ClassificationMetrics(top_k=5)

    #: Name of the metric that decides the best checkpoint on ``train_validation_saving``.
    best_metric = "accuracy"

    def batch_metrics(self, labels, outputs):
        """Returns ``{"accuracy": …, "top5_accuracy": …}`` sums (not means) over the batch."""
        labels = tf.cast(labels, tf.int32)
        k = min(5, self.num_classes)
        top1 = tf.cast(tf.equal(tf.argmax(outputs, axis=-1, output_type=tf.int32), labels), tf.float32)
        top5 = tf.cast(tf.nn.in_top_k(labels, tf.cast(outputs, tf.float32), k), tf.float32)
        return {"accuracy": tf.reduce_sum(top1), "top5_accuracy": tf.reduce_sum(top5)}
