"""The export-format table (lmnet.runtime.layout.EXPORT_FORMATS) is the one source of the format names.

The exporter, parity.json, the runtime's engine defaults and ``--format``, and measure_latency's
``--engine`` choices all derive from it; these tests pin that they equal what the table says.
"""
import pytest

from lmnet.errors import ConfigError
from lmnet.runtime import layout

TABLE_NAMES = ("pb", "saved_model", "tflite_float", "tflite_int8", "onnx", "qonnx", "hls4ml")


def _click_choices(command, option):
    return tuple(next(param for param in command.params if param.name == option).type.choices)


def test_one_name_and_one_file_per_format():
    assert layout.FORMAT_NAMES == TABLE_NAMES
    assert len({item.file for item in layout.EXPORT_FORMATS}) == len(layout.EXPORT_FORMATS)
    assert all(item.description for item in layout.EXPORT_FORMATS)
    assert layout.RUNTIME_FORMATS == tuple(item.name for item in layout.EXPORT_FORMATS if item.engine)
    assert layout.FORMATS["pb"].engine is None
    assert layout.FORMATS["qonnx"].engine is None  # qonnx's executor is a reference, not a runtime engine
    assert layout.FORMATS["hls4ml"].engine is None and not layout.FORMATS["hls4ml"].default  # minutes of g++


def test_file_names_of_the_export_contract_are_unchanged():
    """ARCHITECTURE §7 fixes the file names; the module constants are the table's."""
    files = {item.name: item.file for item in layout.EXPORT_FORMATS}
    assert files == {"pb": "minimal_graph_with_shape.pb", "saved_model": "saved_model",
                     "tflite_float": "model_float.tflite", "tflite_int8": "model_int8.tflite", "onnx": "model.onnx",
                     "qonnx": "model_qonnx.onnx", "hls4ml": "hls4ml_prj"}
    assert (layout.GRAPH_FILE, layout.SAVED_MODEL, layout.TFLITE_FLOAT, layout.TFLITE_INT8, layout.ONNX_FILE,
            layout.QONNX_FILE, layout.HLS4ML_PROJECT) == tuple(files.values())


def test_parity_and_exporter_use_the_table():
    from lmnet.export import exporter, parity
    assert parity.FORMS == layout.FORMAT_NAMES
    assert parity.INT8_FORM in layout.FORMATS
    assert tuple(exporter.FORM_WRITERS) == layout.FORMAT_NAMES


def test_runtime_engines_and_defaults_come_from_the_table():
    from lmnet.runtime import engines
    from lmnet.runtime.__main__ import parse_args
    assert {item.engine for item in layout.EXPORT_FORMATS if item.engine} == set(engines.ENGINES)
    first_file = {}
    for item in layout.EXPORT_FORMATS:
        if item.engine:
            first_file.setdefault(item.engine, item.file)
    assert engines.MODEL_FILES == first_file
    for name in layout.RUNTIME_FORMATS:
        assert engines.resolve_model(export_format=name) == (layout.FORMATS[name].engine, layout.FORMATS[name].file)
        assert parse_args(["export", "images", "-o", "out", "--format", name]).export_format == name
    with pytest.raises(SystemExit):
        parse_args(["export", "images", "-o", "out", "--format", "pb"])


def test_latency_choices_are_keras_and_the_runtime_formats():
    from executor import measure_latency
    from lmnet import latency
    assert latency.ENGINES == (latency.KERAS, *layout.RUNTIME_FORMATS)
    assert _click_choices(measure_latency.main, "engine") == latency.ENGINES


DEFAULT_NAMES = tuple(name for name in TABLE_NAMES if name != "hls4ml")


@pytest.mark.parametrize("names, expected", [
    (None, DEFAULT_NAMES),
    ("default", DEFAULT_NAMES),
    ("default,hls4ml", TABLE_NAMES),
    ("hls4ml,pb", ("pb", "hls4ml")),
    ("onnx,tflite_float", ("tflite_float", "onnx")),
    (" onnx , pb,onnx", ("pb", "onnx")),
    (["tflite_int8"], ("tflite_int8",)),
])
def test_select_formats(names, expected):
    assert tuple(item.name for item in layout.select_formats(names)) == expected


@pytest.mark.parametrize("names, message", [
    ("onnx,savedmodel", "--formats: unknown format 'savedmodel'; choose from default, pb, saved_model, "
                        "tflite_float, tflite_int8, onnx, qonnx, hls4ml"),
    (",", "--formats: no format given; choose from default, pb, saved_model, tflite_float, tflite_int8, onnx, "
          "qonnx, hls4ml"),
])
def test_select_formats_refuses(names, message):
    with pytest.raises(ConfigError) as error:
        layout.select_formats(names)
    assert str(error.value) == message


def test_runtime_format_excludes_engine_and_model():
    from lmnet.runtime.engines import resolve_model
    assert resolve_model() == ("onnx", "model.onnx")
    assert resolve_model("tflite") == ("tflite", "model_float.tflite")
    with pytest.raises(ConfigError, match="either --format or --engine/--model"):
        resolve_model("tflite", export_format="tflite_int8")
    with pytest.raises(ConfigError, match="either --format or --engine/--model"):
        resolve_model(model="model.onnx", export_format="onnx")
    with pytest.raises(ConfigError, match="--format: unknown format 'pb'; choose from saved_model, tflite_float"):
        resolve_model(export_format="pb")
