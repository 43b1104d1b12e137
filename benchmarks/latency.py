"""Network-only latency at batch 1 on 2 threads: Keras call, SavedModel, TFLite and ONNX Runtime side by side.

Models:

* ``LmnetV1Quantize`` 32x32 (``configs/example/classification.py``),
* ``LMFYolo`` (float, ``configs/example/object_detection_float.py``) and ``LMFYoloQuantize`` at 128x128, side by
  side: what the quantizers cost in the float forms (the weight quantizers are folded into constants; the
  activation quantizers are computed),
* ``LMFYoloQuantize`` 160x160 and 224x224 (``configs/example/object_detection.py`` at those sizes).

Each network is built **untrained** (random initial weights: latency does not depend on the weight
values) and written into a temporary folder as a SavedModel, a float TFLite model and an ONNX
model by :mod:`lmnet.export.formats` (the files ``executor/export.py`` writes). Backends:

* ``keras``: ``model(images, training=False)`` (eager call, as ``executor/predict.py`` does);
* ``saved_model``: the ``serving_default`` signature;
* ``tflite_float``: the ai-edge-litert interpreter with its default delegate (XNNPACK), ``num_threads=2``;
* ``onnx``: ONNX Runtime, CPU provider, ``intra_op_num_threads=2``.

The backends other than ``keras`` are export format names of :data:`lmnet.runtime.layout.EXPORT_FORMATS`.

TensorFlow's intra-op threads are set to 2 before anything else runs. Every backend first runs
``lmnet.latency.WARMUP_RUNS`` times untimed, then ``--runs`` timed runs on the same pre-processed
random input. Achieved GFLOP/s = FLOPs of one image per :mod:`lmnet.profiling` / mean latency.
Run it on an otherwise idle machine:

    python -m benchmarks.latency [--runs 100]
"""
import argparse
import os
import shutil
import tempfile
import warnings

import numpy as np

from benchmarks.common import REPO, print_table  # also quiets TensorFlow's logs

THREADS = 2
BACKENDS = ("keras", "saved_model", "tflite_float", "onnx")
MODELS = (("LmnetV1Quantize", os.path.join("configs", "example", "classification.py"), (32, 32)),
          ("LMFYolo", os.path.join("configs", "example", "object_detection_float.py"), (128, 128)),
          ("LMFYoloQuantize", os.path.join("configs", "example", "object_detection.py"), (128, 128)),
          ("LMFYoloQuantize", os.path.join("configs", "example", "object_detection.py"), (160, 160)),
          ("LMFYoloQuantize", os.path.join("configs", "example", "object_detection.py"), (224, 224)))


def configure_threads():
    """Sets TensorFlow's intra-op threads (before TensorFlow initialises)."""
    from lmnet.latency import configure_tensorflow
    configure_tensorflow(THREADS)


def build_model(config_path, image_size):
    """The untrained Keras model of a config at ``image_size`` and its FLOPs per image."""
    from lmnet import builders, config as config_module
    from lmnet.export.meta import config_at_size
    from lmnet.profiling import profile_keras_model
    config = config_at_size(config_module.load(os.path.join(REPO, config_path)), image_size)
    model = builders.build_network(config, list(config.CLASSES)).model
    return model, profile_keras_model(model, "benchmark").totals()["flops"]


def write_forms(model, image_size, directory):
    """Writes the SavedModel, float TFLite and ONNX files with the export folder's names."""
    from lmnet.export import formats
    from lmnet.runtime.layout import ONNX_FILE, SAVED_MODEL, TFLITE_FLOAT
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        formats.save_saved_model(model, image_size, os.path.join(directory, SAVED_MODEL))
        with open(os.path.join(directory, TFLITE_FLOAT), "wb") as stream:
            stream.write(formats.tflite_float(model, image_size))
        formats.save_onnx(model, image_size, os.path.join(directory, ONNX_FILE))


def runners(model, directory):
    """``{backend: f(image [1, H, W, 3]) -> raw output}``."""
    from lmnet.latency import create_export_engine
    result = {"keras": lambda image: model(image, training=False).numpy()}
    for backend in BACKENDS[1:]:
        engine, _ = create_export_engine(directory, backend, threads=THREADS)
        result[backend] = engine.run
    return result


def time_model(name, config_path, image_size, runs):
    """Table rows of one model at one size, one per backend."""
    from lmnet.latency import latency_stats, measure
    model, flops = build_model(config_path, image_size)
    directory = tempfile.mkdtemp(prefix="lmnet-latency-")
    try:
        write_forms(model, image_size, directory)
        image = np.random.default_rng(0).normal(size=(1, *image_size, 3)).astype(np.float32)
        rows = []
        for backend, run in runners(model, directory).items():
            stats = latency_stats(measure(lambda: run(image), runs))
            rows.append((name, f"{image_size[0]}x{image_size[1]}", f"{flops / 1e9:.3f}", backend,
                         f"{stats['mean_ms']:.3f}", f"{stats['std_ms']:.3f}", f"{stats['min_ms']:.3f}",
                         f"{stats['fps']:.1f}", f"{flops / 1e9 / (stats['mean_ms'] / 1000):.2f}"))
        return rows
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def main(argv=None):
    """Prints the markdown table of every model, size and backend."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100, help="timed runs per backend (default 100)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    configure_threads()
    rows = []
    for name, config_path, image_size in MODELS:
        rows += time_model(name, config_path, image_size, args.runs)
    print(f"\nnetwork-only latency, batch 1, {THREADS} threads, {args.runs} timed runs after warm-up, "
          f"untrained weights\n")
    print_table(["model", "input", "GFLOPs", "backend", "mean ms", "std ms", "min ms", "FPS", "GFLOP/s"], rows)


if __name__ == "__main__":
    main()
