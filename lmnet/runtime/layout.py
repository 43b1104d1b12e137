"""File names inside an export folder ``saved/<id>/export/<checkpoint>/<H>x<W>/`` (ARCHITECTURE §7).

The exporter writes them and the runtime reads them; both take the names from here.
"""

#: Frozen TensorFlow graph for the hardware converter.
GRAPH_FILE = "minimal_graph_with_shape.pb"
#: The experiment's whole config.
CONFIG_FILE = "config.yaml"
#: Task, classes, input size and processors (what the runtime needs).
META_FILE = "meta.yaml"
#: Per-node outputs for debugging a converter (written with ``--images``).
INFERENCE_TEST_DATA = "inference_test_data"
#: TensorFlow SavedModel (signature ``serving_default``).
SAVED_MODEL = "saved_model"
#: Float TFLite model.
TFLITE_FLOAT = "model_float.tflite"
#: Full-integer (int8) TFLite model with float32 input and output.
TFLITE_INT8 = "model_int8.tflite"
#: ONNX model.
ONNX_FILE = "model.onnx"
#: Differences of every form against the Keras model.
PARITY_FILE = "parity.json"
