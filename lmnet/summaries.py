"""TensorBoard summaries of training, validation and evaluation."""
import os

import tensorflow as tf


class SummaryWriters:
    """One ``tf.summary`` writer per subfolder of the experiment's ``tensorboard/`` (created lazily).

    Args:
        directory: the experiment's ``tensorboard`` folder.
    """

    def __init__(self, directory):
        self.directory = directory
        self._writers = {}

    def writer(self, name):
        """The writer of ``tensorboard/<name>``."""
        if name not in self._writers:
            self._writers[name] = tf.summary.create_file_writer(os.path.join(self.directory, name))
        return self._writers[name]

    def scalars(self, name, step, values):
        """Writes ``{tag: value}`` scalars at ``step`` to ``tensorboard/<name>``."""
        with self.writer(name).as_default(step=step):
            for tag, value in values.items():
                tf.summary.scalar(tag, float(value))

    def images(self, name, step, tag, images, max_outputs=4):
        """Writes a few images (any range; each rescaled to [0, 1] for display)."""
        images = tf.convert_to_tensor(images[:max_outputs], dtype=tf.float32)
        low = tf.reduce_min(images, axis=[1, 2, 3], keepdims=True)
        high = tf.reduce_max(images, axis=[1, 2, 3], keepdims=True)
        images = tf.math.divide_no_nan(images - low, high - low)
        with self.writer(name).as_default(step=step):
            tf.summary.image(tag, images, max_outputs=max_outputs)

    def flush(self):
        """Flushes every writer."""
        for writer in self._writers.values():
            writer.flush()

    def close(self):
        """Closes every writer."""
        for writer in self._writers.values():
            writer.close()
        self._writers = {}
