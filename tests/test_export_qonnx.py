"""The QONNX export (lmnet.export.qonnx), judged by qonnx itself: its quantizer functions, its executor and its
transformations compute what the Keras model computes."""
import keras
import numpy as np
import pytest

from lmnet.errors import LmnetError
from lmnet.export import qonnx_checks
from lmnet.export.qonnx import DOMAIN, build_qonnx, layer_output_names, save_qonnx
from lmnet.layers.quantized import QuantizedActivation, QuantizedConv2D
from lmnet.quantizations import get_quantizer
from tests.test_layer_forms import doubling_model, small_network
from tests.test_network_harness import NETWORKS

qonnx = pytest.importorskip("qonnx", reason="qonnx is a pinned dependency of the QONNX export")
from qonnx.custom_op.general.bipolar_quant import binary_quant  # noqa: E402
from qonnx.custom_op.general.intquant import int_quant  # noqa: E402


def run_form(form, x):
    """What qonnx's own quantizer functions compute for a :class:`~lmnet.quantizations.QonnxForm` on ``x``."""
    source = x if form.value is None else form.value
    scale = np.asarray(form.scale, np.float32)
    if form.op_type == "BipolarQuant":
        return binary_quant(source, scale)
    return int_quant(source, scale, np.float32(0), np.float32(form.bits), int(form.signed), int(form.narrow),
                     form.rounding_mode)


# Quantizers at their edges --------------------------------------------------------------------------------------

@pytest.mark.parametrize("bit, max_value", [(2, 2.0), (2, 3.0), (3, 1.0), (1, 1.0), (4, 6.0)])
def test_activation_quant_equals_the_quantizer_at_halves_zero_and_the_clip(bit, max_value):
    quantizer = get_quantizer("linear_mid_tread_half")
    levels = 2 ** bit - 1
    step = max_value / levels
    halves = (np.arange(levels) + 0.5) * step  # exact ties when step is a power of two (max 3, bit 2: 0.5, 1.5, 2.5)
    x = np.concatenate([[-5.0, -1e-7, 0.0, 1e-7, max_value, max_value + 1e-6, 2 * max_value, 100.0], halves,
                        np.linspace(-1, max_value + 1, 997)]).astype(np.float32)
    form = quantizer.qonnx_form(None, bit, max_value)
    assert (form.op_type, form.bits, form.signed, form.narrow) == ("Quant", bit, False, False)
    assert form.rounding_mode == "ROUND"
    assert form.scale == np.float32(max_value) / np.float32(levels)
    expected = quantizer.forward(x, bit, max_value).numpy()
    got = run_form(form, x)
    np.testing.assert_array_equal(np.round(got / form.scale), np.round(expected / form.scale))  # same levels
    np.testing.assert_allclose(got, expected, rtol=2e-7, atol=0)
    np.testing.assert_allclose(got[x >= max_value], max_value, rtol=2e-7)  # the clip keeps the top level
    assert np.all(got[x <= 0] == 0)


def test_exact_ties_round_half_to_even_like_tensorflow():
    quantizer = get_quantizer("linear_mid_tread_half")
    x = np.array([0.5, 1.5, 2.5], np.float32)  # bit 2, max 3: scale 1, so these are exact ties
    np.testing.assert_array_equal(quantizer.forward(x, 2, 3.0).numpy(), [0.0, 2.0, 2.0])
    np.testing.assert_array_equal(run_form(quantizer.qonnx_form(None, 2, 3.0), x), [0.0, 2.0, 2.0])


@pytest.mark.parametrize("name", ["binary_mean_scaling", "binary_channel_wise_mean_scaling"])
def test_bipolar_quant_equals_the_binary_quantizer(name):
    quantizer = get_quantizer(name)
    kernel = np.random.RandomState(0).normal(size=(3, 3, 4, 5)).astype(np.float32)
    form = quantizer.qonnx_form(kernel)
    assert form.op_type == "BipolarQuant" and not form.note
    assert np.shape(form.scale) == (() if name == "binary_mean_scaling" else (5,))
    np.testing.assert_array_equal(run_form(form, kernel), quantizer.forward(kernel).numpy())


def test_a_binary_kernel_with_exact_zeros_is_written_as_a_three_level_quant_with_a_note():
    """``tf.sign(0) = 0`` but ``BipolarQuant`` maps 0 to +1: the export keeps lmnet's values and says so."""
    quantizer = get_quantizer("binary_channel_wise_mean_scaling")
    kernel = np.random.RandomState(1).normal(size=(3, 3, 4, 5)).astype(np.float32)
    kernel[0, 0, 0, :2] = 0.0
    assert binary_quant(kernel, np.float32(1))[0, 0, 0, 0] == 1.0  # qonnx's sign of exactly 0
    form = quantizer.qonnx_form(kernel)
    assert (form.op_type, form.bits, form.signed, form.narrow) == ("Quant", 2, True, True)
    assert "2 kernel values are exactly 0" in form.note
    np.testing.assert_array_equal(run_form(form, kernel), quantizer.forward(kernel).numpy())


@pytest.mark.parametrize("kernel", [np.random.RandomState(2).normal(size=(3, 3, 4, 5)), np.zeros((3, 3, 2, 2))],
                         ids=["normal", "all-zero"])
def test_ternary_quant_equals_the_quantizer(kernel):
    quantizer = get_quantizer("ternary")
    kernel = kernel.astype(np.float32)
    form = quantizer.qonnx_form(kernel)
    assert (form.op_type, form.bits, form.signed, form.narrow) == ("Quant", 2, True, True)
    assert np.isfinite(form.scale) and form.scale > 0
    np.testing.assert_array_equal(run_form(form, kernel), quantizer.forward(kernel).numpy())


# Whole networks, executed by qonnx -----------------------------------------------------------------------------

def randomized(model, seed=0):
    """``model`` with batch-norm statistics spread out, so quantized activations use every level."""
    rng = np.random.RandomState(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            channels = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, channels), rng.uniform(-0.5, 1.0, channels),
                               rng.normal(0, 0.5, channels), rng.uniform(0.5, 2.0, channels)])
    return model


def without_exact_zeros(model):
    """``model`` with exact-zero kernel values (a freshly initialised large kernel has a few) nudged off zero,
    so every binary kernel exports as ``BipolarQuant`` (an exact zero makes it a 3-level ``Quant``)."""
    for layer in model.layers:
        if isinstance(layer, QuantizedConv2D):
            kernel = layer.kernel.numpy()
            layer.kernel.assign(np.where(kernel == 0, np.float32(1e-6), kernel))
    return model


def keras_layer_outputs(model, image):
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    probe = keras.Model(model.inputs, [layer.output for layer in layers])
    return {layer.name: output.numpy() for layer, output in zip(layers, probe(image, training=False))}


@pytest.mark.parametrize("module, cls", NETWORKS, ids=[module for module, _ in NETWORKS])
def test_qonnx_executes_every_network_like_keras_layer_by_layer(module, cls, tmp_path):
    network = small_network(cls)
    model = randomized(network.model)
    path = save_qonnx(model, network.image_size, str(tmp_path / "model_qonnx.onnx"))
    image = np.random.RandomState(3).uniform(-1, 1, (1, *network.image_size, 3)).astype(np.float32)
    expected = keras_layer_outputs(model, image)
    got = qonnx_checks.layer_outputs(path, image)
    assert set(got) == set(expected)
    for layer in model.layers:
        if isinstance(layer, QuantizedActivation):
            form = get_quantizer(layer.activation_quantizer).qonnx_form(
                None, *get_quantizer(layer.activation_quantizer).arguments(layer.activation_quantizer_kwargs).values())
            codes = np.round(got[layer.name] / form.scale)
            np.testing.assert_array_equal(codes, np.round(expected[layer.name] / form.scale),
                                          err_msg=f"{cls.__name__}: {layer.name} levels differ")
            assert len(np.unique(codes)) >= 2 ** form.bits - 1, f"{layer.name}: levels hardly used; weak test"
    output = model.layers[-1].name
    scale = max(1.0, float(np.max(np.abs(expected[output]))))
    assert np.max(np.abs(got[output] - expected[output])) <= 1e-5 * scale
    np.testing.assert_allclose(qonnx_checks.qonnx_runner(path)(image), expected[output], atol=1e-5 * scale, rtol=0)


@pytest.fixture(scope="module")
def quantized_detector(tmp_path_factory):
    from lmnet.networks.object_detection.lm_fyolo_quantize import LMFYoloQuantize
    network = small_network(LMFYoloQuantize)
    path = str(tmp_path_factory.mktemp("qonnx") / "model_qonnx.onnx")
    return network, save_qonnx(without_exact_zeros(randomized(network.model)), network.image_size, path)


def test_quantizer_nodes_carry_bit_widths_and_scales(quantized_detector):
    network, path = quantized_detector
    model = qonnx_checks.load(path)
    nodes = {node.name: node for node in model.graph.node}
    quantized_convs = [layer for layer in network.model.layers
                       if isinstance(layer, QuantizedConv2D) and layer.weight_quantizer]
    activations = [layer for layer in network.model.layers if isinstance(layer, QuantizedActivation)]
    assert sum(node.op_type == "BipolarQuant" for node in nodes.values()) == len(quantized_convs) > 0
    assert sum(node.op_type == "Quant" for node in nodes.values()) == len(activations) > 0
    assert all(node.domain == DOMAIN for node in nodes.values() if node.op_type in ("Quant", "BipolarQuant"))
    for layer in quantized_convs:
        node = nodes[f"{layer.name}/{layer.weight_quantizer}"]
        scale = model.get_initializer(node.input[1])
        kernel = layer.kernel.numpy()
        assert scale.shape == (kernel.shape[-1], 1, 1, 1) and scale.dtype == np.float32
        np.testing.assert_allclose(scale.reshape(-1), np.abs(kernel).mean(axis=(0, 1, 2)), rtol=1e-5)  # sum order
        np.testing.assert_array_equal(model.get_initializer(node.input[0]), kernel.transpose(3, 2, 0, 1))
    for layer in activations:
        node = nodes[f"{layer.name}/{layer.activation_quantizer}"]
        attributes = {attribute.name: attribute for attribute in node.attribute}
        assert (attributes["signed"].i, attributes["narrow"].i, attributes["rounding_mode"].s) == (0, 0, b"ROUND")
        assert model.get_initializer(node.input[1]) == np.float32(2.0) / np.float32(3)
        assert model.get_initializer(node.input[2]) == 0
        bitwidth = model.get_initializer(node.input[3])
        assert bitwidth.shape == () and bitwidth == 2
        assert layer_output_names(model.model)[layer.name] == node.output[0]


def test_qonnx_cleanup_and_channels_last_keep_the_outputs(quantized_detector):
    from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean
    from qonnx.util.cleanup import cleanup_model
    network, path = quantized_detector
    image = np.random.RandomState(4).uniform(-1, 1, (1, *network.image_size, 3)).astype(np.float32)
    model = cleanup_model(qonnx_checks.load(path))
    last = cleanup_model(model.transform(ConvertToChannelsLastAndClean(make_input_channels_last=True)))
    assert last.get_tensor_shape(last.graph.input[0].name) == [1, *network.image_size, 3]
    from qonnx.core.onnx_exec import execute_onnx
    got = execute_onnx(last, {last.graph.input[0].name: image})[last.graph.output[0].name]
    np.testing.assert_allclose(got, network.model(image, training=False).numpy(), atol=1e-5, rtol=0)


def test_a_layer_type_without_a_qonnx_form_is_refused_by_name():
    with pytest.raises(LmnetError, match=r"no QONNX form for layer double \(Doubling\)"):
        build_qonnx(doubling_model(), (8, 8))


# qonnx's cost model against lmnet's profile ---------------------------------------------------------------------

@pytest.mark.parametrize("module, cls", [(module, cls) for module, cls in NETWORKS
                                         if cls.quantized or module.endswith("lmnet_v1")],
                         ids=lambda value: value if isinstance(value, str) else "")
def test_qonnx_inference_cost_equals_the_profile(module, cls, tmp_path):
    """MACs, bit operations and kernel weight bits: qonnx's cost model of the export equals lmnet's profile."""
    from lmnet.profiling import profile_keras_model, to_markdown
    network = small_network(cls)
    path = save_qonnx(without_exact_zeros(network.model), network.image_size, str(tmp_path / "model_qonnx.onnx"))
    cost = qonnx_checks.inference_cost(path)
    profile = profile_keras_model(network.model, cls.__name__)
    totals = profile.totals()
    assert (cost["total_macs"], cost["total_bops"], cost["total_mem_w_bits"]) == (
        totals["macs"], totals["bit_operations"], totals["kernel_weight_bits"])
    if cls.quantized:
        assert any(key.startswith("op_mac_SCALEDINT<2>_BIPOLAR") for key in cost)  # 2-bit x 1-bit MACs seen
        assert totals["bit_operations"] < 0.1 * totals["macs"] * 32 * 32
    text = to_markdown(profile)
    assert f"| bit operations (MACs x input bits x weight bits; qonnx's bops) | {totals['bit_operations']} |" in text


def test_the_float_onnx_export_holds_quantized_kernels_as_constants(tmp_path):
    """No weight quantizer runs per call in model.onnx: every Conv reads its kernel from an initializer."""
    import onnx
    from lmnet.export import formats
    from lmnet.networks.object_detection.lm_fyolo_quantize import LMFYoloQuantize
    network = small_network(LMFYoloQuantize)
    path = formats.save_onnx(network.model, network.image_size, str(tmp_path / "model.onnx"))
    graph = onnx.load(path).graph
    initializers = {initializer.name for initializer in graph.initializer}
    assert not {node.op_type for node in graph.node} & {"Sign", "Abs", "ReduceMean"}
    convs = [node for node in graph.node if node.op_type == "Conv"]
    assert len(convs) == 17 and all(node.input[1] in initializers for node in convs)
