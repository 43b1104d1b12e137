"""Quantized convolution and quantized activation layers."""
import keras

from lmnet.quantizations import get_quantizer


class QuantizedConv2D(keras.layers.Conv2D):
    """A ``Conv2D`` whose forward pass uses a quantized copy of its float kernel.

    The float kernel is the trained variable (the "shadow" weights); each call quantizes it
    with ``weight_quantizer`` and convolves with the result, so gradients reach the float kernel
    through the quantizer's straight-through estimator.

    Under a mixed dtype policy the kernel is quantized in float32 (the layer does not autocast its
    variables) and only the result is cast to the compute dtype, as are the inputs and the bias.

    Args:
        filters: number of output channels.
        kernel_size: an int or ``(height, width)``.
        weight_quantizer: registered quantizer name, or ``None`` for a float kernel.
        weight_quantizer_kwargs: keyword arguments of the quantizer.
        **kwargs: the other ``keras.layers.Conv2D`` arguments.
    """

    def __init__(self, filters, kernel_size, weight_quantizer=None, weight_quantizer_kwargs=None, **kwargs):
        kwargs.setdefault("autocast", False)
        super().__init__(filters, kernel_size, **kwargs)
        self.weight_quantizer = weight_quantizer
        self.weight_quantizer_kwargs = dict(weight_quantizer_kwargs or {})
        self._quantize = get_quantizer(weight_quantizer) if weight_quantizer else None

    def quantized_kernel(self):
        """Returns the kernel the forward pass uses (quantized in float32, or the float one), in the
        layer's compute dtype."""
        return self._compute_kernel(self.kernel)

    def _compute_kernel(self, kernel):
        if self._quantize is not None:
            kernel = self._quantize(kernel, **self.weight_quantizer_kwargs)
        if keras.backend.standardize_dtype(kernel.dtype) == self.compute_dtype:
            return kernel
        return keras.ops.cast(kernel, self.compute_dtype)

    def call(self, inputs):
        """Convolution (and bias) in the compute dtype; variables are read as float32."""
        outputs = self.convolution_op(keras.ops.cast(inputs, self.compute_dtype), self.kernel)
        if self.use_bias:
            bias = keras.ops.cast(self.bias, self.compute_dtype)
            if self.data_format == "channels_first":
                bias = keras.ops.reshape(bias, (1, -1, 1, 1))
            outputs = keras.ops.add(outputs, bias)
        if self.activation is not None:
            return self.activation(outputs)
        return outputs

    def convolution_op(self, inputs, kernel):
        """Convolves with the quantized kernel."""
        return super().convolution_op(inputs, self._compute_kernel(kernel))

    def get_config(self):
        """Adds the quantizer name and its arguments to the ``Conv2D`` config."""
        config = super().get_config()
        config.update(weight_quantizer=self.weight_quantizer, weight_quantizer_kwargs=self.weight_quantizer_kwargs)
        return config


class SharedRange:
    """One learned activation range (PACT's or LSQ's ``max_value``) for several :class:`QuantizedActivation` layers.

    The activations that a concatenation joins must share their quantization levels: a hardware converter gives
    the convolution after the concatenation one scale (Blueoil's DLK computes wrong outputs otherwise, hls4ml
    refuses the graph). The first layer built with this object creates the variable and owns it (it is saved,
    averaged and restored under that layer's name, ``<owner>/max_value``); the others read it and have no
    weight of their own, so the gradients of all their uses add up in it. Quantizers without a learned
    parameter ignore it.
    """

    def __init__(self):
        self.owner = None

    def variable(self):
        """The shared variable (``None`` until the owner is built)."""
        return None if self.owner is None else self.owner.learned_value


class QuantizedActivation(keras.layers.Layer):
    """Applies an activation quantizer (for example ``linear_mid_tread_half``).

    Args:
        activation_quantizer: registered quantizer name.
        activation_quantizer_kwargs: keyword arguments of the quantizer.
        shared_range: a :class:`SharedRange` when this layer's learned range is tied to other layers' (the
            network code decides; not part of the layer config, as exported twins fix the value anyway).
        **kwargs: ``keras.layers.Layer`` arguments (``name`` …).
    """

    def __init__(self, activation_quantizer, activation_quantizer_kwargs=None, shared_range=None, **kwargs):
        super().__init__(**kwargs)
        self.activation_quantizer = activation_quantizer
        self.activation_quantizer_kwargs = dict(activation_quantizer_kwargs or {})
        self._quantize = get_quantizer(activation_quantizer)
        self._shared_range = shared_range
        #: This layer's own learned parameter (``None``: the quantizer learns nothing, or the range is shared
        #: and another layer owns it; :meth:`range_variable` is the one the layer computes with).
        self.learned_value = None

    def build(self, input_shape):
        """Creates the quantizer's learned parameter (PACT, LSQ), a trainable scalar named after it, unless a
        :class:`SharedRange` already has one."""
        learned = self._quantize.learned
        if learned is not None:
            owner = self._shared_range.owner if self._shared_range is not None else None
            if owner is None:
                initial = self._quantize.arguments(self.activation_quantizer_kwargs)[learned]
                self.learned_value = self.add_weight(name=learned, shape=(), dtype="float32", trainable=True,
                                                     initializer=keras.initializers.Constant(initial))
                if self._shared_range is not None:
                    self._shared_range.owner = self
            elif (owner.activation_quantizer, owner.activation_quantizer_kwargs) != (
                    self.activation_quantizer, self.activation_quantizer_kwargs):
                raise ValueError(f"{self.name}: shares the learned range of {owner.name} but quantizes with "
                                 f"{self.activation_quantizer} {self.activation_quantizer_kwargs}, not "
                                 f"{owner.activation_quantizer} {owner.activation_quantizer_kwargs}")
        super().build(input_shape)

    def range_variable(self):
        """The learned parameter this layer computes with (its own or the shared one), or ``None``."""
        if self.learned_value is not None or self._shared_range is None:
            return self.learned_value
        return self._shared_range.variable()

    @property
    def range_owner(self):
        """Name of the layer that owns this layer's learned parameter (this layer's own name when unshared)."""
        if self._shared_range is None or self._shared_range.owner is None:
            return self.name
        return self._shared_range.owner.name

    def call(self, inputs):
        """Returns the quantized inputs (computed in float32, returned in the compute dtype)."""
        inputs = keras.ops.cast(inputs, "float32")
        learned_value = self.range_variable()
        if learned_value is None:
            outputs = self._quantize(inputs, **self.activation_quantizer_kwargs)
        else:
            outputs = self._quantize.call_learned(inputs, learned_value, **self.activation_quantizer_kwargs)
        return keras.ops.cast(outputs, self.compute_dtype)

    def exported(self, values=None):
        """``(quantizer name, arguments)`` this layer computes now, as every exporter and profiler reads it: a
        learned parameter's current value is filled in and the quantizer is the one it is exported as.

        Args:
            values: ``{id(variable): value}`` read before a graph is built (the frozen-graph exporter's), or
                ``None`` to read the variable now (eagerly).
        """
        arguments = self._quantize.arguments(self.activation_quantizer_kwargs)
        learned_value = self.range_variable()
        if learned_value is not None:
            value = values[id(learned_value)] if values is not None else learned_value.numpy()
            arguments[self._quantize.learned] = float(value)
        return self._quantize.exported(arguments)

    def compute_output_shape(self, input_shape):
        """Same shape as the input."""
        return input_shape

    def get_config(self):
        """Adds the quantizer name and its arguments to the layer config."""
        config = super().get_config()
        config.update(activation_quantizer=self.activation_quantizer,
                      activation_quantizer_kwargs=self.activation_quantizer_kwargs)
        return config


class IntegerFormActivation(keras.layers.Layer):
    """An activation quantizer in its integer-friendly form (:meth:`~lmnet.quantizations.Quantizer.integer_forward`).

    Same values as the quantizer; ``linear_mid_tread_half``, for example, is written around a ReLU6 that int8
    TFLite fuses into the convolution before it, so that its input keeps its precision.

    Args:
        activation_quantizer: registered quantizer name.
        activation_quantizer_kwargs: keyword arguments of the quantizer.
        **kwargs: ``keras.layers.Layer`` arguments.
    """

    def __init__(self, activation_quantizer, activation_quantizer_kwargs=None, **kwargs):
        super().__init__(**kwargs)
        self.quantizer = get_quantizer(activation_quantizer)
        self.values = list(self.quantizer.arguments(activation_quantizer_kwargs).values())

    def call(self, inputs):
        """Returns the quantized inputs."""
        return self.quantizer.integer_forward(inputs, *self.values)

    def compute_output_shape(self, input_shape):
        """Same shape as the input."""
        return input_shape
