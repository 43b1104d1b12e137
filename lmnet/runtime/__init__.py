"""Standalone inference on an exported model, without TensorFlow.

Needs only NumPy, Pillow, PyYAML and one engine package: ``ai-edge-litert`` (``tflite``),
``onnxruntime`` (``onnx``) or ``tensorflow`` (``tensorflow``, imported only when chosen). It reads an
export folder's ``meta.yaml``, rebuilds the pre- and post-processors (their NumPy implementations)
and writes the same outputs as ``executor/predict.py``::

    from lmnet.runtime import Runtime
    runtime = Runtime("saved/my_experiment/export/save.ckpt-1000/64x64", engine="onnx")
    results = runtime.predict_files(["cat.jpg"])

or ``Runtime(export_dir, export_format="tflite_int8")`` to pick a model by its export format name
(:data:`lmnet.runtime.layout.EXPORT_FORMATS`), or from the shell: ``python -m lmnet.runtime EXPORT_DIR
IMAGES_DIR -o OUT --engine onnx`` (or ``--format tflite_int8``).
"""
from lmnet.runtime.engines import ENGINES, MODEL_FILES, create_engine
from lmnet.runtime.layout import EXPORT_FORMATS, FORMATS, RUNTIME_FORMATS, ExportFormat
from lmnet.runtime.meta import ExportMeta, load_meta, meta_data
from lmnet.runtime.results import RESULT_SCHEMA, validate_document
from lmnet.runtime.runtime import Runtime

__all__ = ["ENGINES", "EXPORT_FORMATS", "FORMATS", "MODEL_FILES", "RESULT_SCHEMA", "RUNTIME_FORMATS", "ExportFormat",
           "ExportMeta", "Runtime", "create_engine", "load_meta", "meta_data", "validate_document"]
