"""What one quantizer is: its math, its straight-through gradient, its parameters and its precision.

A quantizer is a :class:`Quantizer` object, registered once under its contract name
(:func:`lmnet.quantizations.registry.register`). Every consumer reads that one object:

* training calls it (``quantizer(x, **kwargs)``): :meth:`Quantizer.forward` with a straight-through
  gradient shaped by :meth:`Quantizer.gradient_mask`, under the name scope ``QTZ_<name>``;
* the frozen-graph exporter (:mod:`lmnet.export.qtz`) makes one ``QTZ_<name>`` function of
  :meth:`Quantizer.forward`, its inputs the tensor then :attr:`Quantizer.parameters` in their dtypes;
* the int8 exporter uses :meth:`Quantizer.integer_forward` (the same values, written so that int8 TFLite
  keeps its input precise);
* the QONNX exporter (:mod:`lmnet.export.qonnx`) writes the node :meth:`Quantizer.qonnx_form` describes
  (``Quant`` or ``BipolarQuant`` with its scale, bit width, signedness and rounding);
* profiling and the converter checks read :meth:`Quantizer.bits`, :attr:`Quantizer.role` and
  :attr:`Quantizer.monotonic`;
* configs are checked with :meth:`Quantizer.arguments`.

:meth:`Quantizer.forward` is written once with TensorFlow ops that accept both Python numbers (training)
and scalar tensors (the exported function's parameter inputs), so the graph computes exactly what the
Keras model computes.
"""
import dataclasses

import numpy as np
import tensorflow as tf

from lmnet.errors import ConfigError

#: Prefix of every quantizer's name scope, exported function and node op type (``QTZ_<name>``).
PREFIX = "QTZ_"

#: The roles a quantizer plays: it quantizes a kernel, or the activations between layers.
ROLES = ("weight", "activation")

#: The parameter dtypes an exported quantizer function may take (as upstream Blueoil's converter reads them).
PARAMETER_DTYPES = {"int32": tf.int32, "float32": tf.float32}


@dataclasses.dataclass(frozen=True)
class Parameter:
    """One keyword parameter of a quantizer.

    Attributes:
        name: the keyword (``"bit"``); also the name of its input in the exported function.
        dtype: ``"int32"`` or ``"float32"``, its dtype in the exported function.
        default: the value when a config does not give one (``None``: the config must give it).
    """

    name: str
    dtype: str
    default: object = None

    def value(self, given, quantizer, key):
        """``given`` as a Python ``int`` or ``float`` of this parameter's dtype.

        Raises:
            ConfigError: not a number, or not a whole number for an integer parameter; names ``key``.
        """
        try:
            number = float(given)
        except (TypeError, ValueError):
            raise ConfigError(f"config key '{key}': {self.name} of quantizer {quantizer} must be a number, "
                              f"got {given!r}") from None
        if self.dtype == "int32":
            if not number.is_integer():
                raise ConfigError(f"config key '{key}': {self.name} of quantizer {quantizer} must be a whole "
                                  f"number, got {given!r}")
            return int(number)
        return number


@dataclasses.dataclass(frozen=True)
class QonnxForm:
    """A quantizer as one QONNX node (``qonnx.custom_op.general``), with the values that make it exact.

    ``Quant`` computes ``round(clip(x / scale)) * scale`` with the integer range of ``bits``, ``signed``
    and ``narrow``; ``BipolarQuant`` computes ``(+1 if x >= 0 else -1) * scale``.

    Attributes:
        op_type: ``"Quant"`` or ``"BipolarQuant"``.
        scale: float32, a scalar or one value per output channel (the kernel's last axis in TensorFlow's
            layout; the exporter reshapes it to its layout).
        bits: the bit width of ``Quant`` (``None`` for ``BipolarQuant``).
        signed: ``Quant``'s integer range includes negative values.
        narrow: ``Quant``'s range drops its most negative value (signed) or its top value (unsigned).
        rounding_mode: ``Quant``'s rounding; ``"ROUND"`` halves to even, as ``tf.round``.
        value: for a weight quantizer, the constant to feed the node instead of the float kernel
            (TensorFlow's layout), or ``None`` to feed the float kernel.
        note: why this form differs from the quantizer's usual one (the exporter warns with it), or ``""``.
    """

    op_type: str
    scale: np.ndarray
    bits: int = None
    signed: bool = False
    narrow: bool = False
    rounding_mode: str = "ROUND"
    value: np.ndarray = None
    note: str = ""


class Quantizer:
    """Base class of every quantizer; a subclass describes one completely.

    Subclasses set :attr:`name`, :attr:`role` and :attr:`parameters`, and define :meth:`forward` and
    :meth:`bits`; they may refine :meth:`gradient_mask`, :meth:`integer_forward` and :attr:`monotonic`.

    Attributes:
        name: the contract name configs, YAML files and exported graphs use.
        role: ``"weight"`` or ``"activation"``.
        parameters: its keyword parameters (:class:`Parameter`), in the order of the exported function's inputs.
        monotonic: acts element by element and never decreases, so max pooling commutes with it
            (``max(q(x)) = q(max(x))``).
    """

    name = None
    role = None
    parameters = ()
    monotonic = False
    #: Quantizing ``k * x`` gives ``k * q(x)`` for every ``k > 0`` (a weight quantizer whose scale follows the
    #: kernel's): a kernel may absorb a positive factor without changing its quantized levels.
    scale_equivariant = False
    #: The parameter learned per layer (a trainable scalar of the layer, initialised from the config's
    #: value), or ``None``; see :meth:`learned_gradient` and :meth:`call_learned`.
    learned = None
    #: The registered quantizer whose forward, with the learned value fixed, this one's is: what a trained
    #: layer is exported as (``None``: itself).
    exported_as = None

    def forward(self, x, *values):
        """The quantized values of ``x``; ``values`` are the parameters in :attr:`parameters` order, each a Python
        number or a scalar tensor of its dtype."""
        raise NotImplementedError(f"quantizer {self.name} has no forward")

    def bits(self, **params):
        """Bits per quantized value, with these parameters (from :meth:`arguments`)."""
        raise NotImplementedError(f"quantizer {self.name} does not state its bits")

    def gradient_mask(self, x, *values):
        """Where the straight-through gradient passes (a boolean tensor like ``x``), or ``None`` for everywhere."""
        return None

    def integer_forward(self, x, *values):
        """The same values as :meth:`forward`, written for int8 export (by default :meth:`forward` itself)."""
        return self.forward(x, *values)

    def qonnx_form(self, x, *values):
        """The QONNX node computing :meth:`forward` (:class:`QonnxForm`).

        Args:
            x: the kernel (float32 NumPy array, TensorFlow's layout) for a weight quantizer; ``None`` for an
                activation quantizer.
            values: the parameters in :attr:`parameters` order, as Python numbers.

        Raises:
            NotImplementedError: the quantizer has no QONNX form.
        """
        raise NotImplementedError(f"quantizer {self.name} has no QONNX form")

    @property
    def keywords(self):
        """The names of its keyword parameters."""
        return [parameter.name for parameter in self.parameters]

    def arguments(self, kwargs=None, key=None):
        """The full parameter values: ``kwargs`` checked, defaults filled in, numbers of the right kind.

        Args:
            kwargs: the keyword arguments a config or layer gives.
            key: the config key holding them, for messages (default ``<name> arguments``).

        Returns:
            ``{parameter name: value}`` in :attr:`parameters` order.

        Raises:
            ConfigError: an unknown keyword, a missing one without default, or a value of the wrong kind.
        """
        kwargs = dict(kwargs or {})
        key = key or f"{self.name} arguments"
        takes = f"it accepts {', '.join(self.keywords)}" if self.keywords else "it takes no keyword arguments ({})"
        unknown = [keyword for keyword in kwargs if keyword not in self.keywords]
        if unknown:
            raise ConfigError(f"config key '{key}' has {', '.join(map(repr, unknown))}, which quantizer {self.name} "
                              f"does not take; {takes}")
        missing = [p.name for p in self.parameters if p.default is None and p.name not in kwargs]
        if missing:
            raise ConfigError(f"config key '{key}' lacks {', '.join(map(repr, missing))}, which quantizer "
                              f"{self.name} needs; {takes}")
        return {p.name: p.value(kwargs.get(p.name, p.default), self.name, key) for p in self.parameters}

    def __call__(self, x, **kwargs):
        """Quantizes ``x`` for training: :meth:`forward` with the straight-through gradient.

        Backward: :math:`\\partial L / \\partial x = \\partial L / \\partial y` where :meth:`gradient_mask`
        holds (everywhere when it is ``None``), zero elsewhere.
        """
        values = list(self.arguments(kwargs).values())
        with tf.name_scope(PREFIX + self.name):
            x = tf.convert_to_tensor(x)

            @tf.custom_gradient
            def quantize(value):
                def grad(upstream):
                    mask = self.gradient_mask(value, *values)
                    return upstream if mask is None else upstream * tf.cast(mask, upstream.dtype)
                return self.forward(value, *values), grad
            return quantize(x)

    def learned_gradient(self, x, upstream, *values):
        """The gradient of the loss with respect to the :attr:`learned` parameter (a scalar).

        Args:
            x: the quantizer's input.
            upstream: the loss gradient with respect to the output.
            values: the parameters in :attr:`parameters` order (the learned one as a tensor).
        """
        raise NotImplementedError(f"quantizer {self.name} learns no parameter")

    def call_learned(self, x, learned_value, **kwargs):
        """Quantizes ``x`` for training with the :attr:`learned` parameter given as a tensor (the layer's variable).

        Backward: :meth:`gradient_mask` for ``x``, as :meth:`__call__`, and :meth:`learned_gradient` for the
        learned parameter.
        """
        fixed = self.arguments(kwargs)
        with tf.name_scope(PREFIX + self.name):
            x = tf.convert_to_tensor(x)

            @tf.custom_gradient
            def quantize(value, learned):
                values = [learned if p.name == self.learned else fixed[p.name] for p in self.parameters]

                def grad(upstream):
                    mask = self.gradient_mask(value, *values)
                    dx = upstream if mask is None else upstream * tf.cast(mask, upstream.dtype)
                    return dx, tf.cast(self.learned_gradient(value, upstream, *values), learned.dtype)
                return self.forward(value, *values), grad
            return quantize(x, tf.convert_to_tensor(learned_value))  # a variable is read here, outside

    def exported(self, arguments):
        """``(name, arguments)`` of the quantizer a layer with these (learned values included) is exported as."""
        return (self.exported_as or self.name), dict(arguments)

    def __repr__(self):
        return f"<quantizer {self.name}>"

    def __copy__(self):
        return self  # stateless: a copied config keeps the registered object

    def __deepcopy__(self, memo):
        return self

    def __reduce__(self):
        from lmnet.quantizations.registry import get_quantizer
        return get_quantizer, (self.name,)
