"""Space-to-depth as a Keras layer."""
import keras
import tensorflow as tf


class SpaceToDepth(keras.layers.Layer):
    """Moves ``block_size x block_size`` spatial blocks into channels (NHWC).

    Output shape: ``(batch, height / b, width / b, channels * b * b)``.

    Args:
        block_size: the block size ``b`` (2, or 4 and 8 on LMFYolo's side paths).
        **kwargs: ``keras.layers.Layer`` arguments.
    """

    def __init__(self, block_size=2, **kwargs):
        super().__init__(**kwargs)
        self.block_size = block_size

    def call(self, inputs):
        """Rearranges the input."""
        return tf.nn.space_to_depth(inputs, self.block_size)

    def compute_output_shape(self, input_shape):
        """Divides height and width by the block size and multiplies the channels by its square."""
        batch, height, width, channels = input_shape
        b = self.block_size
        return (batch, None if height is None else height // b, None if width is None else width // b,
                channels * b * b)

    def get_config(self):
        """Adds ``block_size`` to the layer config."""
        config = super().get_config()
        config.update(block_size=self.block_size)
        return config
