"""Tests of lmnet.quantizations: forward values and gradients against NumPy references, the registry
and the ``QTZ_<name>`` name scopes."""
import copy
import pickle

import numpy as np
import pytest
import tensorflow as tf

from lmnet.errors import ConfigError
from lmnet.quantizations import (Quantizer, binary_channel_wise_mean_scaling, binary_mean_scaling, get_quantizer,
                                 linear_mid_tread_half, quantizer_name, register, registered_quantizers, ternary)
from lmnet.quantizations.base import PARAMETER_DTYPES, ROLES

BIT = 2
MAX_VALUE = 2.0
LEVELS = 2 ** BIT - 1
WEIGHT_QUANTIZERS = ["binary_mean_scaling", "binary_channel_wise_mean_scaling", "ternary"]
KERNEL_SHAPE = (3, 3, 4, 5)


# NumPy references ------------------------------------------------------------------------------------------------

def linear_reference(x, bit=BIT, max_value=MAX_VALUE):
    """NumPy ``linear_mid_tread_half`` in float32, rounding half to even (``np.round``)."""
    x = np.asarray(x, np.float32)
    scale = np.float32(max_value) / np.float32(2 ** bit - 1)
    return (np.round(np.clip(x, 0, np.float32(max_value)) / scale) * scale).astype(np.float32)


def linear_gradient_reference(x, upstream, max_value=MAX_VALUE):
    """Upstream gradient where ``0 < x < max_value``, zero elsewhere."""
    return np.where((x > 0) & (x < max_value), upstream, 0).astype(np.float32)


def binary_reference(w):
    """``sign(w) * mean(|w|)`` over the whole tensor."""
    return np.sign(w) * np.mean(np.abs(w))


def binary_channel_wise_reference(w):
    """``sign(w) * mean(|w|)`` with the mean per last-axis channel."""
    flat = np.abs(w).reshape(-1, w.shape[-1])
    return np.sign(w) * flat.mean(axis=0)


def ternary_reference(w):
    """TWN: threshold ``0.7 * mean|w|``, alpha the mean of the magnitudes above it."""
    magnitude = np.abs(w)
    threshold = 0.7 * magnitude.mean()
    kept = magnitude > threshold
    alpha = magnitude[kept].mean() if kept.any() else 0.0
    return alpha * np.sign(w) * kept


REFERENCES = {
    "binary_mean_scaling": binary_reference,
    "binary_channel_wise_mean_scaling": binary_channel_wise_reference,
    "ternary": ternary_reference,
}


# helpers ---------------------------------------------------------------------------------------------------------

def forward_and_gradient(fn, x, upstream, as_variable):
    """Returns ``fn(x)`` and the gradient of ``sum(fn(x) * upstream)`` w.r.t. ``x`` as NumPy arrays.

    Args:
        fn: a quantizer taking one tensor.
        x: NumPy input.
        upstream: NumPy upstream gradient, same shape as ``x``.
        as_variable: pass ``x`` as a ``tf.Variable`` (else as a ``tf.Tensor``).
    """
    source = tf.Variable(x) if as_variable else tf.constant(x)
    with tf.GradientTape() as tape:
        if not as_variable:
            tape.watch(source)
        output = fn(source)
        objective = tf.reduce_sum(output * upstream)
    gradient = tape.gradient(objective, source)
    return output.numpy(), gradient.numpy()


def random_kernel(seed, shape=KERNEL_SHAPE):
    """A random float32 kernel with a few exact zeros."""
    rng = np.random.default_rng(seed)
    kernel = rng.normal(size=shape).astype(np.float32)
    kernel.flat[::7] = 0.0
    return kernel


def linear(x):
    """``linear_mid_tread_half`` at the test's bit and max value."""
    return linear_mid_tread_half(x, bit=BIT, max_value=MAX_VALUE)


# linear_mid_tread_half ---------------------------------------------------------------------------------------------

EDGE_VALUES = np.array([
    0.0, MAX_VALUE,                      # the ends of the range
    1e-4, MAX_VALUE - 1e-4,              # just inside
    -1e-4, MAX_VALUE + 1e-4,             # just outside
    -1.0, -123.0, 3.0, 1e6,              # negative, above max
    1.0 / 3.0, 1.0, 5.0 / 3.0,           # rounding midpoints: x * 3 / 2 = 0.5, 1.5, 2.5
    0.5, 1.2,                            # ordinary values
], dtype=np.float32)


@pytest.mark.parametrize("as_variable", [False, True], ids=["tensor", "variable"])
@pytest.mark.parametrize("inputs", ["random", "edges"])
def test_linear_mid_tread_half_matches_reference(inputs, as_variable):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1.0, 3.0, size=(4, 6, 6, 3)).astype(np.float32) if inputs == "random" else EDGE_VALUES
    upstream = rng.normal(size=x.shape).astype(np.float32)
    output, gradient = forward_and_gradient(linear, x, upstream, as_variable)
    np.testing.assert_allclose(output, linear_reference(x), rtol=1e-6, atol=0)
    np.testing.assert_array_equal(gradient, linear_gradient_reference(x, upstream))


def test_linear_mid_tread_half_levels():
    x = np.linspace(-1.0, 3.0, 1001, dtype=np.float32)
    output = linear(tf.constant(x)).numpy()
    expected_levels = np.arange(LEVELS + 1) * MAX_VALUE / LEVELS
    np.testing.assert_allclose(np.unique(output), expected_levels, rtol=1e-6)
    assert output.dtype == np.float32


def test_linear_mid_tread_half_edges():
    x = np.array([0.0, MAX_VALUE, -1.0, 3.0, 1e-4, MAX_VALUE - 1e-4], np.float32)
    output = linear(tf.constant(x)).numpy()
    np.testing.assert_allclose(output, [0.0, MAX_VALUE, 0.0, MAX_VALUE, 0.0, MAX_VALUE], rtol=1e-6)


def test_linear_mid_tread_half_rounds_half_to_even():
    midpoints = np.array([1.0 / 3.0, 1.0, 5.0 / 3.0], np.float32)
    scaled = midpoints * np.float32(LEVELS / MAX_VALUE)
    np.testing.assert_array_equal(scaled, [0.5, 1.5, 2.5])  # exact midpoints in float32
    output = linear(tf.constant(midpoints)).numpy()
    # 0.5 -> 0, 1.5 -> 2, 2.5 -> 2 (half to even, as np.round and tf.round; never half away from zero)
    np.testing.assert_allclose(output, np.array([0, 2, 2]) / LEVELS * MAX_VALUE, rtol=1e-6)
    np.testing.assert_array_equal(np.round(scaled), [0.0, 2.0, 2.0])


@pytest.mark.parametrize("as_variable", [False, True], ids=["tensor", "variable"])
def test_linear_mid_tread_half_gradient_mask_is_strict(as_variable):
    x = np.array([0.0, MAX_VALUE, 1e-4, MAX_VALUE - 1e-4, -1e-4, MAX_VALUE + 1e-4, -5.0, 5.0], np.float32)
    _, gradient = forward_and_gradient(linear, x, np.ones_like(x), as_variable)
    np.testing.assert_array_equal(gradient, [0, 0, 1, 1, 0, 0, 0, 0])


def test_linear_mid_tread_half_other_bit_and_max():
    x = np.random.default_rng(1).uniform(-1.0, 7.0, size=500).astype(np.float32)
    output = linear_mid_tread_half(tf.constant(x), bit=3, max_value=6.0).numpy()
    np.testing.assert_allclose(output, linear_reference(x, bit=3, max_value=6.0), rtol=1e-6)


def test_linear_mid_tread_half_keeps_float64():
    x = np.array([0.2, 0.9, 1.7], np.float64)
    output = linear(tf.constant(x))
    assert output.dtype == tf.float64
    np.testing.assert_allclose(output.numpy(), np.round(np.clip(x, 0, 2) * 1.5) / 3 * 2)


# weight quantizers -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("as_variable", [False, True], ids=["tensor", "variable"])
@pytest.mark.parametrize("name", WEIGHT_QUANTIZERS)
@pytest.mark.parametrize("seed", [0, 1])
def test_weight_quantizer_matches_reference_with_identity_gradient(name, seed, as_variable):
    kernel = random_kernel(seed)
    upstream = np.random.default_rng(seed + 100).normal(size=kernel.shape).astype(np.float32)
    output, gradient = forward_and_gradient(get_quantizer(name), kernel, upstream, as_variable)
    np.testing.assert_allclose(output, REFERENCES[name](kernel), rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(gradient, upstream)


def test_binary_mean_scaling_values():
    w = np.array([[-2.0, 0.0], [1.0, 3.0]], np.float32)
    output = binary_mean_scaling(tf.constant(w)).numpy()
    np.testing.assert_allclose(output, [[-1.5, 0.0], [1.5, 1.5]])  # mean|w| = 1.5, sign(0) = 0


def test_binary_channel_wise_mean_scaling_scales_per_last_axis():
    w = np.array([[-1.0, 4.0], [3.0, 0.0]], np.float32)
    output = binary_channel_wise_mean_scaling(tf.constant(w)).numpy()
    np.testing.assert_allclose(output, [[-2.0, 2.0], [2.0, 0.0]])  # channel 0: mean 2; channel 1: mean 2
    w = np.array([[-1.0, 4.0], [3.0, 2.0]], np.float32)
    output = binary_channel_wise_mean_scaling(tf.constant(w)).numpy()
    np.testing.assert_allclose(output, [[-2.0, 3.0], [2.0, 3.0]])


def test_ternary_values():
    w = np.array([0.1, -0.2, 1.0, -3.0, 0.0, 2.0], np.float32)
    # mean|w| = 6.3 / 6 = 1.05, threshold 0.735; kept 1, 3, 2 -> alpha 2
    output = ternary(tf.constant(w)).numpy()
    np.testing.assert_allclose(output, [0.0, 0.0, 2.0, -2.0, 0.0, 2.0], rtol=1e-6)


def test_ternary_output_has_three_values():
    kernel = random_kernel(3)
    output = ternary(tf.constant(kernel)).numpy()
    alpha = np.abs(output).max()
    assert alpha > 0
    assert set(np.unique(output)) <= {-alpha, 0.0, alpha}


def test_ternary_of_zeros_is_zero_without_nan():
    w = tf.zeros(KERNEL_SHAPE)
    output = ternary(w).numpy()
    assert not np.isnan(output).any()
    np.testing.assert_array_equal(output, 0.0)


# registry --------------------------------------------------------------------------------------------------------

CONTRACT = {
    "linear_mid_tread_half": linear_mid_tread_half,
    "binary_mean_scaling": binary_mean_scaling,
    "binary_channel_wise_mean_scaling": binary_channel_wise_mean_scaling,
    "ternary": ternary,
}


@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_registry_round_trip(name):
    fn = CONTRACT[name]
    assert get_quantizer(name) is fn
    assert quantizer_name(fn) == name
    assert registered_quantizers()[name] is fn


def test_registry_unknown_name_is_config_error():
    with pytest.raises(ConfigError, match="no_such_quantizer"):
        get_quantizer("no_such_quantizer")


def test_quantizer_name_of_unregistered_function_is_config_error():
    def impostor(x):
        return x
    impostor.quantizer_name = "binary_mean_scaling"
    with pytest.raises(ConfigError):
        quantizer_name(impostor)
    with pytest.raises(ConfigError):
        quantizer_name(tf.nn.relu)


# graph naming ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_quantizer_ops_live_under_qtz_name_scope(name):
    fn = get_quantizer(name)
    graph = tf.function(lambda x: fn(x)).get_concrete_function(tf.TensorSpec(KERNEL_SHAPE, tf.float32)).graph
    operations = graph.get_operations()
    inner = [op for op in operations if op.type != "Placeholder" and op.name != "Identity"]
    assert inner
    outside = [op.name for op in inner if not op.name.startswith(f"QTZ_{name}/")]
    assert not outside, f"ops outside QTZ_{name}/: {outside}"
    assert any(op.type in ("Sign", "Round") for op in inner)


# every registered quantizer is described whole -------------------------------------------------------------------

REGISTERED = sorted(registered_quantizers())


def quantizer_subclasses(cls=Quantizer):
    """Every concrete subclass of :class:`Quantizer` defined in lmnet (recursively); a shared base without a
    ``name`` (such as :class:`~lmnet.quantizations.learned.LearnedRange`) is not a quantizer of its own."""
    found = []
    for subclass in cls.__subclasses__():
        if subclass.__module__.startswith("lmnet.") and subclass.name is not None:
            found.append(subclass)
        found.extend(quantizer_subclasses(subclass))
    return found


def test_every_quantizer_class_in_lmnet_is_registered():
    registered_types = {type(quantizer) for quantizer in registered_quantizers().values()}
    unregistered = [cls.__name__ for cls in quantizer_subclasses() if cls not in registered_types]
    assert not unregistered, f"quantizer classes without a registered instance: {unregistered}"


def sample_input(quantizer, seed=0):
    """A kernel for a weight quantizer (no exact zeros: the binary quantizers keep sign(0) = 0, a third value
    that a trained float kernel practically never holds), activations spanning the range and beyond for an
    activation quantizer."""
    if quantizer.role == "weight":
        return np.random.default_rng(seed).normal(size=KERNEL_SHAPE).astype(np.float32)
    return np.random.default_rng(seed).uniform(-1.0, 3.0, size=(2, 5, 5, 4)).astype(np.float32)


@pytest.mark.parametrize("name", REGISTERED)
def test_quantizer_states_role_parameters_and_bits(name):
    quantizer = get_quantizer(name)
    assert quantizer.name == name and quantizer.role in ROLES
    for parameter in quantizer.parameters:
        assert parameter.dtype in PARAMETER_DTYPES, f"{name}.{parameter.name}: dtype {parameter.dtype}"
    arguments = quantizer.arguments({})
    assert list(arguments) == quantizer.keywords
    bits = quantizer.bits(**arguments)
    assert isinstance(bits, int) and 1 <= bits <= 32


@pytest.mark.parametrize("name", REGISTERED)
def test_quantizer_output_has_at_most_two_to_the_bits_values_per_channel(name):
    quantizer = get_quantizer(name)
    output = quantizer(tf.constant(sample_input(quantizer))).numpy()
    levels = 2 ** quantizer.bits(**quantizer.arguments({}))
    counts = [len(np.unique(output[..., channel])) for channel in range(output.shape[-1])]
    assert max(counts) <= levels, f"{name} claims {levels} levels, a channel has {max(counts)}"


@pytest.mark.parametrize("name", REGISTERED)
def test_exported_function_computes_the_training_values_exactly(name):
    from lmnet.export.qtz import PREFIX, GraphQuantizers
    quantizer = get_quantizer(name)
    x = sample_input(quantizer)
    graph = tf.Graph()
    with graph.as_default():
        placeholder = tf.compat.v1.placeholder(tf.float32, x.shape)
        output = GraphQuantizers().apply(name, placeholder, {}, PREFIX + name)
        assert output.op.type == PREFIX + name
        with tf.compat.v1.Session(graph=graph) as session:
            exported = session.run(output, {placeholder: x})
    np.testing.assert_array_equal(exported, quantizer(tf.constant(x)).numpy())


@pytest.mark.parametrize("name", REGISTERED)
def test_integer_form_gives_the_same_values(name):
    quantizer = get_quantizer(name)
    x = sample_input(quantizer)
    values = list(quantizer.arguments({}).values())
    np.testing.assert_allclose(quantizer.integer_forward(tf.constant(x), *values).numpy(),
                               quantizer(tf.constant(x)).numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", REGISTERED)
def test_gradient_is_straight_through_where_the_mask_says(name):
    quantizer = get_quantizer(name)
    x = sample_input(quantizer)
    upstream = np.random.default_rng(9).normal(size=x.shape).astype(np.float32)
    _, gradient = forward_and_gradient(quantizer, x, upstream, as_variable=False)
    mask = quantizer.gradient_mask(tf.constant(x), *quantizer.arguments({}).values())
    expected = upstream if mask is None else np.where(mask.numpy(), upstream, 0)
    np.testing.assert_array_equal(gradient, expected)


@pytest.mark.parametrize("name", REGISTERED)
def test_monotonic_claim_holds(name):
    quantizer = get_quantizer(name)
    if not quantizer.monotonic:
        pytest.skip(f"{name} does not claim to commute with max pooling")
    x = np.sort(sample_input(quantizer).ravel())
    assert np.all(np.diff(quantizer(tf.constant(x)).numpy()) >= 0)


@pytest.mark.parametrize("name", REGISTERED)
def test_copies_and_pickles_are_the_registered_object(name):
    quantizer = get_quantizer(name)
    assert copy.deepcopy(quantizer) is quantizer and copy.copy(quantizer) is quantizer
    assert pickle.loads(pickle.dumps(quantizer)) is quantizer


def test_register_refuses_half_described_and_duplicate_quantizers():
    class Nameless(Quantizer):
        role = "weight"

    class NoRole(Quantizer):
        name = "no_role"

    for incomplete in (Nameless(), NoRole(), binary_reference):
        with pytest.raises(TypeError):
            register(incomplete)
    with pytest.raises(ValueError, match="already registered"):
        register(type(ternary)())
