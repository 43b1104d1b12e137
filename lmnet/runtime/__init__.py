"""Standalone inference on an exported model, without TensorFlow.

Needs only NumPy, Pillow, PyYAML and one engine package: ``ai-edge-litert`` (``tflite``),
``onnxruntime`` (``onnx``) or ``tensorflow`` (``tensorflow``, imported only when chosen). It reads an
export folder's ``meta.yaml``, rebuilds the pre- and post-processors (their NumPy implementations)
and writes the same outputs as ``executor/predict.py``::

    from lmnet.runtime import Runtime
    runtime = Runtime("saved/my_experiment/export/save.ckpt-1000/64x64", engine="onnx")
    results = runtime.predict_files(["cat.jpg"])

or from the shell: ``python -m lmnet.runtime EXPORT_DIR IMAGES_DIR -o OUT --engine onnx``.
"""
from lmnet.runtime.engines import ENGINES, MODEL_FILES, create_engine
from lmnet.runtime.meta import ExportMeta, load_meta, meta_data
from lmnet.runtime.results import RESULT_SCHEMA, validate_document
from lmnet.runtime.runtime import Runtime

__all__ = ["ENGINES", "MODEL_FILES", "RESULT_SCHEMA", "ExportMeta", "Runtime", "create_engine", "load_meta",
           "meta_data", "validate_document"]
