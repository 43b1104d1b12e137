"""Ternary weight quantizer (Ternary Weight Networks)."""
import numpy as np
import tensorflow as tf

from lmnet.quantizations.base import QonnxForm, Quantizer
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
    scale_equivariant = True

    def forward(self, x):
        """``alpha * sign(x) * [|x| > 0.7 mean|x|]``."""
        magnitude = tf.abs(x)
        threshold = 0.7 * tf.reduce_mean(magnitude)
        kept = tf.cast(magnitude > threshold, x.dtype)
        alpha = tf.math.divide_no_nan(tf.reduce_sum(magnitude * kept), tf.reduce_sum(kept))
        return alpha * tf.sign(x) * kept

    def qonnx_form(self, x):
        """``Quant`` (2 bits, signed, narrow: levels -1, 0, +1) with scale ``alpha``, fed the quantized kernel.

        Fed the float kernel, ``Quant`` would round at ``alpha / 2`` instead of the threshold ``0.7 mean|x|``;
        fed ``y = alpha * sign * kept`` it returns ``y`` exactly (``y / alpha`` is exactly -1, 0 or +1). With
        no value above the threshold (``alpha = 0``) the scale is 1 and the kernel all zeros.
        """
        quantized = self.forward(tf.convert_to_tensor(x, tf.float32)).numpy()
        alpha = np.float32(np.max(np.abs(quantized))) if np.any(quantized) else np.float32(1.0)
        return QonnxForm("Quant", alpha, bits=2, signed=True, narrow=True, value=quantized)

    def bits(self):
        """2."""
        return 2


ternary = register(Ternary())
