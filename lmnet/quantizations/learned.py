r"""Activation quantizers that learn their range: PACT and LSQ.

Both compute exactly :class:`~lmnet.quantizations.linear.LinearMidTreadHalf`'s forward,

.. math::

    s = \frac{m}{Q}, \qquad y = \mathrm{round}\left(\frac{\mathrm{clip}(x, 0, m)}{s}\right) \cdot s,
    \qquad Q = 2^{bit} - 1,

but the top of the range :math:`m` (``max_value``) is a trainable scalar of each quantized activation
layer, initialised from the config's ``max_value``. They differ only in the gradient that moves it. A
trained layer is exported as ``linear_mid_tread_half`` with its learned ``max_value``: the hardware
converters, QONNX, int8 TFLite and profiling see the quantizer they already know, so the export contract
does not change. The learned values are ordinary layer weights (``<layer>/max_value``): checkpointed,
averaged by ``EMA_DECAY``, restored by every tool.
"""
import tensorflow as tf

from lmnet.quantizations.linear import LinearMidTreadHalf, _levels_and_top
from lmnet.quantizations.registry import register


class LearnedRange(LinearMidTreadHalf):
    """The shared part of PACT and LSQ: ``max_value`` is a trainable weight of the layer, exported as
    ``linear_mid_tread_half`` with its learned value. Not registered itself (``name`` is ``None``); a
    subclass names itself and gives the gradient of ``max_value`` in :meth:`learned_gradient`.
    """

    name = None
    learned = "max_value"
    exported_as = "linear_mid_tread_half"


class Pact(LearnedRange):
    r"""PACT (Choi et al., 2018): a learned clipping level.

    Forward: :class:`LinearMidTreadHalf`'s, with :math:`m` the layer's learned clipping level
    :math:`\alpha`.

    Backward (straight-through for :math:`x`; the clip's derivative for :math:`\alpha`):

    .. math::

        \frac{\partial L}{\partial x} = \frac{\partial L}{\partial y}\,[0 < x < \alpha], \qquad
        \frac{\partial L}{\partial \alpha} = \sum \frac{\partial L}{\partial y}\,[x \ge \alpha]

    Parameters: ``bit`` (default 2) and ``max_value`` (the initial :math:`\alpha`, default 2.0).
    Exported as ``linear_mid_tread_half(bit, max_value=α)``.
    """

    name = "pact"

    def learned_gradient(self, x, upstream, bit, max_value):
        """:math:`\\sum \\partial L / \\partial y \\cdot [x \\ge \\alpha]`."""
        _, top = _levels_and_top(x, bit, max_value)
        return tf.reduce_sum(tf.cast(upstream, tf.float32) * tf.cast(x >= top, tf.float32))


class Lsq(LearnedRange):
    r"""LSQ (Esser et al., 2020): a learned step size :math:`s = m / Q`.

    Forward: :class:`LinearMidTreadHalf`'s, with :math:`m` the layer's learned value.

    Backward: straight-through for :math:`x` (:math:`[0 < x < m]`), and for the step size, with
    :math:`v = x / s`,

    .. math::

        \frac{\partial y}{\partial s} = \begin{cases} 0 & v \le 0 \\ \mathrm{round}(v) - v & 0 < v < Q \\
        Q & v \ge Q \end{cases}, \qquad
        \frac{\partial L}{\partial m} = \frac{g}{Q} \sum \frac{\partial L}{\partial y}
        \frac{\partial y}{\partial s}, \qquad g = \frac{1}{\sqrt{N Q}}

    where :math:`N` is the number of values per sample (the paper's gradient scale, which keeps the step
    size's updates in proportion to the weights').

    Parameters: ``bit`` (default 2) and ``max_value`` (the initial :math:`m = Q s`, default 2.0).
    Exported as ``linear_mid_tread_half(bit, max_value=m)``.
    """

    name = "lsq"

    def learned_gradient(self, x, upstream, bit, max_value):
        """:math:`g / Q \\cdot \\sum \\partial L / \\partial y \\cdot \\partial y / \\partial s`."""
        levels, top = _levels_and_top(x, bit, max_value)
        x, levels, top = tf.cast(x, tf.float32), tf.cast(levels, tf.float32), tf.cast(top, tf.float32)
        scaled = x / (top / levels)
        step_gradient = tf.where(scaled <= 0, tf.zeros_like(scaled),
                                 tf.where(scaled >= levels, levels * tf.ones_like(scaled), tf.round(scaled) - scaled))
        per_sample = tf.cast(tf.reduce_prod(tf.shape(x)[1:]), tf.float32)
        scale = tf.math.rsqrt(per_sample * levels) / levels
        return scale * tf.reduce_sum(tf.cast(upstream, tf.float32) * step_gradient)


pact = register(Pact())
lsq = register(Lsq())
