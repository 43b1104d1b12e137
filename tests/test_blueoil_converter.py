"""lmnet's frozen graphs through Blueoil's DLK converter, compiled for x86 and compared with TensorFlow.

Opt-in: set ``LMNET_BLUEOIL_SRC`` to the root of a checkout of https://github.com/blue-oil/blueoil
(the folder holding ``blueoil/converter``). The test also needs ``make`` and ``g++``.

For each network below it builds the config's network at a small image size with random weights,
gives every batch normalization statistics measured on the test images (and spread scales and
offsets, a few of them negative) so that the activations of every layer use all quantization
levels, and writes the frozen graph and pre-processed images. A driver then runs in a subprocess of
the same interpreter, with the checkout on ``sys.path`` (the converter needs numpy's removed type
aliases, which must not leak into this process):

1. import the graph, optimize it with hard quantization and threshold skipping,
2. generate the C++ project, ``make build ARCH=x86 TYPE=executable`` (``g++ -include iterator``:
   the archived templates miss that include for today's compilers),
3. run ``lm_x86.elf <input.npy> <expected.npy>`` for each image; the program compares its output
   with the graph's TensorFlow output itself (within 1e-5 times max(1, |expected|)) and prints the
   verdict; the driver also measures the largest difference.
"""
import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from tests.conftest import REPO

SOURCE_VARIABLE = "LMNET_BLUEOIL_SRC"
COMPILER = "g++ -include iterator"
IMAGES = 3
#: Images measured for the batch-normalization statistics (the first IMAGES of them are compared).
CALIBRATION_IMAGES = 6
DRIVER_TIMEOUT = 1500
#: Smallest distance kept between a quantizer input on the test images and a rounding boundary.
TIE_MARGIN = 1e-4


def _source_problem():
    """Why the converter test cannot run here, or ``None``."""
    source = os.environ.get(SOURCE_VARIABLE)
    if not source:
        return f"{SOURCE_VARIABLE} is not set (point it at a blue-oil/blueoil checkout to run the DLK converter)"
    if not os.path.isfile(os.path.join(source, "blueoil", "converter", "generate_project.py")):
        return f"{SOURCE_VARIABLE}={source} holds no blueoil/converter/generate_project.py"
    missing = [tool for tool in ("make", "g++") if shutil.which(tool) is None]
    if missing:
        return f"{' and '.join(missing)} not found: the generated C++ project cannot be built"
    return None


pytestmark = [pytest.mark.slow, pytest.mark.skipif(_source_problem() is not None, reason=str(_source_problem()))]

#: Run in a subprocess: ``python driver.py job.json`` writes ``report.json`` into the job's folder.
DRIVER = textwrap.dedent('''
    import collections
    import json
    import os
    import re
    import subprocess
    import sys
    import time

    import numpy as np

    # The converter predates numpy 2 and still names these aliases.
    for alias, kind in (("object", object), ("bool", bool), ("int", int), ("float", float)):
        if alias not in np.__dict__:
            setattr(np, alias, kind)

    with open(sys.argv[1]) as stream:
        job = json.load(stream)
    sys.path.insert(0, job["source"])

    from blueoil.converter.code_generator import CodeGenerator
    from blueoil.converter.core import optimizer
    from blueoil.converter.core.config import Config
    from blueoil.converter.core.params import Params
    from blueoil.converter.frontend import TensorFlowIO

    work = job["work"]
    project = os.path.join(work, "project")
    report = {"seconds": {}, "runs": []}


    def save_report():
        with open(os.path.join(work, "report.json"), "w") as stream:
            json.dump(report, stream, indent=1)


    def op_counts(graph):
        return dict(sorted(collections.Counter(op.op_type for op in graph.operators).items()))


    clock = time.time()
    config = Config(activate_hard_quantization=True, threshold_skipping=True, test_dir=os.path.join(work, "test"),
                    optimized_pb_path=os.path.join(work, "optimized.pb"), output_pj_path=project)
    graph = TensorFlowIO().read(job["pb"])
    report["imported_ops"] = op_counts(graph)
    report["seconds"]["import"] = time.time() - clock

    clock = time.time()
    optimizer.pass_remove_identities(graph)
    optimizer.pass_transpose(graph)
    optimizer.pass_lookup(graph, config)
    optimizer.pass_propagate_quantization_details_into_conv(graph)
    optimizer.pass_compute_thresholds(graph)
    optimizer.pass_pack_weights(graph)
    optimizer.pass_quantize_convolutions(graph)
    optimizer.pass_propagate_datatypes(graph)
    optimizer.pass_propagate_format(graph)
    optimizer.pass_constant_folding(graph)
    optimizer.pass_simplify_batchnorm(graph)
    optimizer.pass_insert_cast(graph)
    report["optimized_ops"] = op_counts(graph)
    quantized = graph.convs(quantized_only=True)
    report["quantized_convolutions"] = len(quantized)
    report["threshold_tables"] = sum(1 for conv in quantized if conv.has_thresholds)
    report["seconds"]["optimize"] = time.time() - clock

    clock = time.time()
    generator = CodeGenerator(graph, Params(graph, config), config)
    generator.reuse_output_buffers()
    generator.generate_files_from_template()
    generator.generate_inputs()
    generator.generate_scaling_factors()
    generator.generate_thresholds()
    report["seconds"]["generate"] = time.time() - clock

    clock = time.time()
    build = subprocess.run(["make", "-C", project, "-j%d" % job["jobs"], "build", "ARCH=x86", "TYPE=executable",
                            "CXX=" + job["cxx"]], capture_output=True, text=True)
    program = os.path.join(project, "lm_x86.elf")
    report["seconds"]["build"] = time.time() - clock
    report["built"] = build.returncode == 0 and os.path.isfile(program)
    if not report["built"]:
        report["build_log"] = (build.stdout + build.stderr)[-6000:]
        save_report()
        sys.exit(0)

    LISTED = re.compile(r"idx: (\\d+), in: (\\S+), ex: (\\S+), diff: (\\S+)")


    def run_program(image, reference, folder):
        """Runs the program in ``folder``; returns its stdout and ``{index: (output, relative diff)}`` it listed."""
        os.makedirs(folder, exist_ok=True)
        for name in os.listdir(folder):
            if name.endswith(".diff"):
                os.remove(os.path.join(folder, name))
        done = subprocess.run([program, image, reference], capture_output=True, text=True, cwd=folder, timeout=600)
        listed = {}
        for name in os.listdir(folder):
            if name.endswith(".diff"):
                with open(os.path.join(folder, name)) as stream:
                    for match in LISTED.finditer(stream.read()):
                        listed[int(match.group(1))] = (float(match.group(2)), float(match.group(4)))
        return done, listed


    def measured_error(image, expected, folder):
        """The program's output minus ``expected``, element by element.

        The program prints only the elements outside its tolerance, to six significant digits. Against a
        reference shifted by 1e-3 of each value (or 1e-3) every element is listed, and its printed relative
        distance to that reference gives the output to about 1e-9 of the value.
        """
        expected = expected.reshape(-1).astype(np.float32)
        scale = np.maximum(np.abs(expected), 1).astype(np.float64)
        shifted = (expected + np.float32(1e-3) * scale.astype(np.float32)).astype(np.float32)
        path = os.path.join(folder, "shifted_reference.npy")
        np.save(path, shifted)
        _, listed = run_program(image, path, folder)
        error = np.full(expected.shape, np.inf)
        offset = shifted.astype(np.float64) - expected
        reference_scale = np.maximum(np.abs(shifted.astype(np.float64)), 1)
        for index, (output, relative) in listed.items():
            rough = output - float(expected[index])
            if abs(rough) < 5e-4 * scale[index]:
                error[index] = offset[index] - relative * reference_scale[index]
            else:
                error[index] = rough
        return error


    def scale_of(path):
        return np.maximum(np.abs(np.load(path).reshape(-1).astype(np.float64)), 1)


    clock = time.time()
    for number, (image, expected_path) in enumerate(job["pairs"]):
        folder = os.path.join(work, "run%d" % number)
        done, _ = run_program(image, expected_path, folder)
        error = measured_error(image, np.load(expected_path), folder)
        report["runs"].append({
            "image": image, "returncode": done.returncode,
            "succeeded": "succeeded!!!" in done.stdout and "failed..." not in done.stdout,
            "max_abs_error": float(np.abs(error).max()),
            "max_relative_error": float((np.abs(error) / scale_of(expected_path)).max()),
            "verdict": done.stdout.split("TotalInitTime")[0][-3000:] + done.stderr[-2000:]})
    report["seconds"]["run"] = time.time() - clock
    save_report()
''')

#: DLK sums a quantized convolution in 16-bit integers; YoloV2Quantize's conv22 reads 1280 channels x 3x3 taps
#: x 3 levels = 34,560 > 32,767, so its x86 program stops on the overflow assertion (export warns about it).
#: Strict: a pass means the network or the converter changed and the mark should go.
ACCUMULATOR_OVERFLOW = pytest.mark.xfail(strict=True, reason=(
    "DLK's 16-bit accumulator: conv22 has 1280 x 3 x 3 x 3 = 34560 > 32767 (assertion in quantized_conv2d.h)"))

#: The networks converted: each config's network at its config's image size (the example detector at a smaller one;
#: the README demo's trained export at 128x128 runs through LMNET_BLUEOIL_EXPORTS).
NETWORKS = [
    pytest.param("configs/example/classification.py", [32, 32], id="example_classification"),
    pytest.param("configs/example/object_detection.py", [64, 64], id="example_object_detection"),
    pytest.param("configs/example/object_detection_tiny.py", [64, 64], id="example_object_detection_tiny"),
    pytest.param("configs/core/classification/lmnet_quantize_cifar10.py", [32, 32], id="lmnet_v0_quantize"),
    pytest.param("configs/core/classification/lmnet_v1_quantize_cifar10.py", [32, 32], id="lmnet_v1_quantize"),
    pytest.param("configs/core/object_detection/lm_fyolo_quantize_pascalvoc_2007_2012.py", [320, 320],
                 id="lm_fyolo_quantize"),
    pytest.param("configs/core/object_detection/yolo_v2_quantize_pascalvoc_2007_2012.py", [64, 64],
                 id="yolo_v2_quantize", marks=ACCUMULATOR_OVERFLOW),
]


def _write_images(directory, image_size, rng):
    """Writes CALIBRATION_IMAGES random RGB images a little larger than ``image_size`` (so they get resized).

    Args:
        directory: folder for the PNG files.
        image_size: ``[height, width]`` of the network input.
        rng: a ``numpy.random.Generator``.

    Returns:
        The file paths.
    """
    paths = []
    for index in range(CALIBRATION_IMAGES):
        pixels = rng.integers(0, 256, (image_size[0] + 7, image_size[1] + 5, 3), dtype=np.uint8)
        path = os.path.join(directory, f"image{index}.png")
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths


def _draw_weights(model, rng):
    """Gives every kernel Glorot-uniform values from ``rng`` (none exactly zero) and every bias small ones.

    Drawing them here makes the test reproducible. A zero weight is avoided on purpose: lmnet's binary
    quantizers take ``tf.sign`` (0 for 0) while the converter packs a weight >= 0 as +1, so a single zero in a
    kernel changes that channel's output on the device (a difference this test does not try to exercise).

    Args:
        model: the network's functional Keras model.
        rng: a ``numpy.random.Generator``.
    """
    for layer in model.layers:
        kernel = getattr(layer, "kernel", None)
        if kernel is None:
            continue
        shape = tuple(kernel.shape)
        receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
        limit = np.sqrt(6.0 / (receptive * (shape[-2] + shape[-1])))
        values = rng.uniform(-limit, limit, shape).astype(np.float32)
        values[values == 0] = np.float32(limit * 1e-3)
        kernel.assign(values)
        bias = getattr(layer, "bias", None)
        if bias is not None:
            bias.assign(rng.uniform(-0.1, 0.1, tuple(bias.shape)).astype(np.float32))


def _rounding_boundaries(config):
    """Inputs at which the config's 2-bit (or n-bit) activation quantizer steps from one level to the next."""
    kwargs = dict(config.NETWORK.ACTIVATION_QUANTIZER_KWARGS or {})
    levels = 2 ** int(kwargs.get("bit", 2)) - 1
    max_value = float(kwargs.get("max_value", 2.0))
    return (np.arange(levels) + 0.5) * max_value / levels


def _spread_batch_norms(model, batch, boundaries, rng):
    """Sets every batch normalization of ``model`` from the statistics of its input on ``batch``.

    The layers are visited in graph order, so each one sees the activations the previous ones now give.
    Scales are drawn in [0.4, 1.2] (one in ten negated) and offsets in [0.2, 1.4]: the normalized values then
    spread over the 2-bit activation range [0, 2] instead of collapsing onto one level.

    An offset is redrawn while one of its channel's values on ``batch`` lies within :data:`TIE_MARGIN` of a
    rounding boundary of the activation quantizer. With threshold skipping the converter turns each
    convolution + batch norm + quantizer into integer thresholds computed in float32, and a value that close to
    a boundary can land on the other level than in TensorFlow (seen: 8e-7 off a boundary, one activation of
    32768 flipped). Such near ties are a precision limit, not what this test checks.

    Args:
        model: the network's functional Keras model.
        batch: pre-processed images ``[N, H, W, 3]``.
        boundaries: the activation quantizer's rounding boundaries (:func:`_rounding_boundaries`).
        rng: a ``numpy.random.Generator``.
    """
    import keras
    for layer in model.layers:
        if not isinstance(layer, keras.layers.BatchNormalization):
            continue
        probe = keras.Model(model.inputs[0], layer.input)
        values = probe(batch, training=False).numpy()
        channels = values.shape[-1]
        values = values.reshape(-1, channels).astype(np.float64)
        gamma = rng.uniform(0.4, 1.2, channels) * np.where(rng.random(channels) < 0.1, -1.0, 1.0)
        beta = rng.uniform(0.2, 1.4, channels)
        mean = values.mean(axis=0)
        variance = values.var(axis=0) + 1e-3
        normalized = gamma * (values - mean) / np.sqrt(variance + layer.epsilon)
        for _ in range(100):
            distance = np.abs((normalized + beta)[..., None] - boundaries).min(axis=(0, 2))
            close = distance < TIE_MARGIN
            if not close.any():
                break
            beta[close] += rng.uniform(-0.05, 0.05, int(close.sum()))
        else:
            raise AssertionError(f"{layer.name}: no offsets keep the values off the quantizer's rounding boundaries")
        layer.set_weights([np.asarray(v, np.float32) for v in (gamma, beta, mean, variance)])


def _export_network(config_path, image_size, directory):
    """Writes ``model.pb`` and ``input<i>.npy`` / ``expected<i>.npy`` pairs into ``directory``.

    ``expected<i>.npy`` is the frozen graph's ``output`` on ``input<i>.npy`` in a TensorFlow session.

    Args:
        config_path: config module, relative to the repository.
        image_size: ``[height, width]`` to build the network at.
        directory: an existing folder.

    Returns:
        ``(pb path, [[input path, expected path], ...])``.
    """
    from lmnet import builders, config as config_module
    from lmnet.export import graph, meta, samples

    rng = np.random.default_rng(0)
    config = meta.config_at_size(config_module.load(os.path.join(REPO, config_path)), image_size)
    network = builders.build_network(config, list(config.CLASSES), mixed_precision=False)
    images = samples.load_export_images(_write_images(directory, image_size, rng), config.PRE_PROCESSOR, image_size)
    _draw_weights(network.model, rng)
    _spread_batch_norms(network.model, np.concatenate([image.preprocessed for image in images]),
                        _rounding_boundaries(config), rng)

    graph_def = graph.build_graph_def(network.model, image_size)
    pb = os.path.join(directory, "model.pb")
    with open(pb, "wb") as stream:
        stream.write(graph_def.SerializeToString())
    run = graph.graph_runner(graph_def)
    pairs = []
    for index, image in enumerate(images[:IMAGES]):
        pair = [os.path.join(directory, f"input{index}.npy"), os.path.join(directory, f"expected{index}.npy")]
        preprocessed = np.ascontiguousarray(image.preprocessed, np.float32)
        np.save(pair[0], preprocessed)
        np.save(pair[1], np.ascontiguousarray(run(preprocessed), np.float32))
        pairs.append(pair)
    return pb, pairs


def _convert_build_and_run(pb, pairs, work):
    """Runs :data:`DRIVER` on ``pb`` in a subprocess of this interpreter.

    Args:
        pb: the frozen graph.
        pairs: ``[[input .npy, expected output .npy], ...]``.
        work: folder for the driver, its job file, the generated project and the program's runs.

    Returns:
        The driver's report: op counts after import and after optimization, the numbers of quantized
        convolutions and threshold tables, ``built`` (and ``build_log`` when not), seconds per stage and one
        entry per image (exit code, the program's verdict, max absolute and relative error).
    """
    os.makedirs(work, exist_ok=True)
    driver = os.path.join(work, "driver.py")
    with open(driver, "w") as stream:
        stream.write(DRIVER)
    job = {"source": os.path.abspath(os.environ[SOURCE_VARIABLE]), "pb": pb, "pairs": pairs, "work": work,
           "cxx": COMPILER, "jobs": len(os.sched_getaffinity(0))}
    job_path = os.path.join(work, "job.json")
    with open(job_path, "w") as stream:
        json.dump(job, stream)
    done = subprocess.run([sys.executable, driver, job_path], capture_output=True, text=True, cwd=work,
                          timeout=DRIVER_TIMEOUT)
    report_path = os.path.join(work, "report.json")
    assert done.returncode == 0 and os.path.isfile(report_path), \
        f"the converter driver failed (exit {done.returncode}):\n{done.stderr[-6000:]}"
    with open(report_path) as stream:
        return json.load(stream)


@pytest.mark.timeout(DRIVER_TIMEOUT + 300)
@pytest.mark.parametrize("config_path, image_size", NETWORKS)
def test_dlk_x86_build_matches_the_frozen_graph(config_path, image_size, tmp_path, monkeypatch):
    """Hard-quantized, threshold-skipping DLK code built for x86 gives the frozen graph's outputs."""
    monkeypatch.setenv("OUTPUT_DIR", str(tmp_path / "saved"))
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "dataset"))
    exported = tmp_path / "export"
    exported.mkdir()
    pb, pairs = _export_network(config_path, image_size, str(exported))

    report = _convert_build_and_run(pb, pairs, str(tmp_path / "dlk"))
    keys = ("optimized_ops", "quantized_convolutions", "threshold_tables", "seconds")
    summary = json.dumps({key: report.get(key) for key in keys})
    # Max pooling sits between a batch norm and its quantizer (LmnetV0Quantize): those layers get no thresholds.
    assert report["quantized_convolutions"] > 0, summary
    assert report["threshold_tables"] > 0 or "MaxPool" in report["optimized_ops"], summary
    assert report["built"], f"{summary}\n{report.get('build_log')}"
    assert len(report["runs"]) == IMAGES
    for run in report["runs"]:
        assert run["returncode"] == 0 and run["succeeded"], f"{run['image']}:\n{run['verdict']}\n{summary}"
        assert run["max_relative_error"] < 1e-5, \
            f"{run['image']}: max |x86 - pb| = {run['max_abs_error']}\n{summary}"


# ---------------------------------------------------------------- trained exports (opt-in)

#: ``os.pathsep``-separated export folders written by ``executor/export.py --images …`` (trained networks).
EXPORTS_VARIABLE = "LMNET_BLUEOIL_EXPORTS"


def _trained_exports():
    return [path for path in os.environ.get(EXPORTS_VARIABLE, "").split(os.pathsep) if path]


def _test_data_folders(export_dir):
    """The ``inference_test_data`` folders of an export (one per ``--images`` file)."""
    root = os.path.join(export_dir, "inference_test_data")
    if os.path.isfile(os.path.join(root, "output.npy")):
        return [root]
    return sorted(os.path.join(root, name) for name in os.listdir(root)
                  if os.path.isfile(os.path.join(root, name, "output.npy")))


needs_exports = pytest.mark.skipif(not _trained_exports(), reason=(
    f"{EXPORTS_VARIABLE} is not set (export folders of trained networks, written with export.py --images)"))


@needs_exports
@pytest.mark.timeout(DRIVER_TIMEOUT + 300)
@pytest.mark.parametrize("export_dir", _trained_exports())
def test_dlk_x86_build_matches_trained_export(export_dir, tmp_path):
    """A trained export (``minimal_graph_with_shape.pb`` and its ``inference_test_data``) through the converter."""
    folders = _test_data_folders(export_dir)
    assert folders, f"{export_dir}: no inference_test_data (export with --images)"
    pairs = [[os.path.join(folder, "preprocessed_image.npy"), os.path.join(folder, "output.npy")]
             for folder in folders]
    report = _convert_build_and_run(os.path.join(export_dir, "minimal_graph_with_shape.pb"), pairs,
                                    str(tmp_path / "dlk"))
    summary = json.dumps({key: report.get(key) for key in ("optimized_ops", "quantized_convolutions",
                                                           "threshold_tables", "seconds")})
    print(summary)
    assert report["built"], f"{summary}\n{report.get('build_log')}"
    for run in report["runs"]:
        print(run["image"], run["succeeded"], run["max_abs_error"])
        assert run["succeeded"] and run["max_relative_error"] < 1e-5, f"{run['image']}:\n{run['verdict']}"


#: Upstream's Python runtime (``output_template/python``: its ``config.py`` builds each processor of
#: ``meta.yaml`` as the class with the YAML parameters as attributes) on an export's test data.
UPSTREAM_RUNTIME = textwrap.dedent('''
    import json
    import os
    import sys

    import numpy as np

    for alias, kind in (("object", object), ("bool", bool), ("int", int), ("float", float)):
        if alias not in np.__dict__:
            setattr(np, alias, kind)
    source, export_dir, folder, result_path = sys.argv[1:5]
    sys.path.insert(0, os.path.join(source, "output_template", "python"))
    from config import build_post_process, build_pre_process, load_yaml

    meta = load_yaml(os.path.join(export_dir, "meta.yaml"))
    pre = build_pre_process(meta.PRE_PROCESSOR)
    post = build_post_process(meta.POST_PROCESSOR)
    image = pre(image=np.load(os.path.join(folder, "raw_image.npy")))["image"]
    outputs = post(outputs=np.load(os.path.join(folder, "output.npy")))["outputs"]
    with open(result_path, "w") as stream:
        json.dump({"preprocessed": np.asarray(image, np.float64).tolist(),
                   "outputs": [np.asarray(item, np.float64).tolist() for item in outputs]}, stream)
''')


def _rows_match(first, second, tolerance=1e-4):
    """Whether two sets of ``(x, y, w, h, class, score)`` rows are equal up to order (relative above 1)."""
    if first.shape != second.shape:
        return False
    first, second = (rows[np.lexsort(rows.T[::-1])] for rows in (first, second))
    return bool(np.all(np.abs(first - second) <= tolerance * np.maximum(1.0, np.abs(first))))


@needs_exports
@pytest.mark.parametrize("export_dir", _trained_exports())
def test_upstream_python_runtime_agrees_with_lmnet(export_dir, tmp_path):
    """Upstream's Python runtime rebuilds the processors of ``meta.yaml`` and gets lmnet's input and predictions."""
    from lmnet.runtime.meta import load_meta
    meta = load_meta(export_dir)
    grid = np.load(os.path.join(_test_data_folders(export_dir)[0], "output.npy")).shape[1:3]
    if "DETECTION" in str(meta.task) and tuple(grid) != tuple(size // 32 for size in meta.image_size):
        pytest.skip(f"a stride-{meta.image_size[0] // grid[0]} detector: upstream's FormatYoloV2 decodes a "
                    "stride-32 grid only (blueoil/post_processor.py, num_cell = image_size // 32); export warns")
    script = tmp_path / "upstream_runtime.py"
    script.write_text(UPSTREAM_RUNTIME)
    for index, folder in enumerate(_test_data_folders(export_dir)):
        result_path = str(tmp_path / f"result{index}.json")
        done = subprocess.run([sys.executable, str(script), os.environ[SOURCE_VARIABLE], export_dir, folder,
                               result_path], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-4000:]
        with open(result_path) as stream:
            result = json.load(stream)
        expected_input = np.load(os.path.join(folder, "preprocessed_image.npy"))[0]
        np.testing.assert_allclose(np.asarray(result["preprocessed"]), expected_input, atol=1e-4)
        output = np.load(os.path.join(folder, "output.npy"))
        if meta.post_processor is None:
            np.testing.assert_allclose(np.asarray(result["outputs"]), output, rtol=1e-6)
            continue
        lmnet_rows = meta.post_processor(outputs=output)["outputs"][0]
        lmnet_rows = lmnet_rows[lmnet_rows[:, 4] >= 0].astype(np.float64)
        upstream_rows = np.asarray(result["outputs"][0], np.float64).reshape(-1, 6)
        print(f"{folder}: lmnet {len(lmnet_rows)} boxes, upstream {len(upstream_rows)} boxes")
        assert _rows_match(lmnet_rows, upstream_rows), f"{folder}: boxes differ"
