"""Ternary weight quantizer (Ternary Weight Networks)."""
import tensorflow as tf

from lmnet.quantizations.base import Quantizer
from lmnet.quantizations.registry import register


class Ternary(Quantizer):
    r"""Ternarizes a kernel to :math:`\{-\alpha, 0, +\alpha\}`.

    Forward:

    .. math::

        \Delta = 0.7 \cdot \mathrm{mean}(|x|), \qquad
        \alpha = \mathrm{mean}\{|x_i| : |x_i| > \Delta\}, \qquad
        y = \alpha \cdot \mathrm{sign}(x) \cdot [|x| > \Delta]

    (``alpha = 0`` when no value exceeds the threshold).

    Backward (straight-through): :math:`\partial L / \partial x = \partial L / \partial y`.

    No parameters; 2 bits per weight (three levels).
    """

    name = "ternary"
    role = "weight"

    def forward(self, x):
        """``alpha * sign(x) * [|x| > 0.7 mean|x|]``."""
        magnitude = tf.abs(x)
        threshold = 0.7 * tf.reduce_mean(magnitude)
        kept = tf.cast(magnitude > threshold, x.dtype)
        alpha = tf.math.divide_no_nan(tf.reduce_sum(magnitude * kept), tf.reduce_sum(kept))
        return alpha * tf.sign(x) * kept

    def bits(self):
        """2."""
        return 2


ternary = register(Ternary())
