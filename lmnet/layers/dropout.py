"""Dropout whose masks do not depend on how the batch is split over replicas."""
import keras
import tensorflow as tf


class BatchSplitInvariantDropout(keras.layers.Dropout):
    """``keras.layers.Dropout`` with the same masks whatever the number of replicas.

    Keras draws each replica's mask independently from the same seed, so with ``R`` replicas the
    samples of replica ``r > 0`` get the masks of replica 0, not those a single process would give
    them. Here every replica draws the mask of the whole global batch, ``[R·b, …]``, from one
    stateless seed (advanced once per training call) and keeps its own rows ``r·b … (r+1)·b``:
    the sample at global position ``k`` of a step gets the same mask on 1 or ``R`` replicas, so a
    distributed step computes what a single-process step on the global batch computes.

    Forward (training): ``y = x / (1 - rate)`` where ``u >= rate`` else ``0``, with ``u`` uniform in
    ``[0, 1)``. Inference: ``y = x``. Gradient: the same mask scaled by ``1 / (1 - rate)``.

    Args:
        rate: fraction of the inputs dropped, in ``[0, 1)``.
        seed: seed of the layer's seed generator (``None``: from Keras' global seed).
        **kwargs: ``keras.layers.Layer`` arguments (``name``, …).
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(rate, seed=seed, **kwargs)

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        seed = tf.cast(self.seed_generator.next(), tf.int64)
        context = tf.distribute.get_replica_context()
        replicas = context.num_replicas_in_sync if context else 1
        replica = context.replica_id_in_sync_group if context else 0
        local = tf.shape(inputs)[0]
        global_shape = tf.concat([[local * replicas], tf.shape(inputs)[1:]], axis=0)
        uniform = tf.random.stateless_uniform(global_shape, seed=seed, dtype=tf.float32)
        keep = uniform[replica * local:(replica + 1) * local] >= self.rate
        scaled = inputs / tf.cast(1.0 - self.rate, inputs.dtype)
        return tf.where(keep, scaled, tf.zeros_like(inputs))
