"""The predict JSON (ARCHITECTURE §8): building it, its JSON schema and a small validator.

``executor/predict.py`` and the standalone runtime both build their JSON with these functions, so
the two outputs cannot drift apart. This module needs NumPy only.

A document holds ``classes`` (``[{id, name}]``), ``date`` (ISO 8601), ``task``, ``version`` and
``results``: one entry ``{file_path, prediction}`` per image, where ``prediction`` is

- classification: ``[{class: {id, name}, probability}]`` for every class, in class order;
- detection: ``[{box: [x, y, w, h], class: {id, name}, score}]``, the box in pixels of the raw
  (original) image, padding rows left out, in the post-processor's order.
"""
import datetime

import numpy as np

import lmnet
from lmnet.boxes import scale_xywh
from lmnet.common import Tasks
from lmnet.tasks import get_task

_CLASS = {"type": "object", "required": ["id", "name"], "additionalProperties": False,
          "properties": {"id": {"type": "integer", "minimum": 0}, "name": {"type": "string"}}}
_NUMBER = {"type": "number"}
_CLASSIFICATION_ITEM = {"type": "object", "required": ["class", "probability"], "additionalProperties": False,
                        "properties": {"class": _CLASS, "probability": _NUMBER}}
_DETECTION_ITEM = {"type": "object", "required": ["box", "class", "score"], "additionalProperties": False,
                   "properties": {"box": {"type": "array", "items": _NUMBER, "minItems": 4, "maxItems": 4},
                                  "class": _CLASS, "score": _NUMBER}}


def _document_schema(task, item):
    """The schema of a whole document whose predictions are ``item`` objects."""
    result = {"type": "object", "required": ["file_path", "prediction"], "additionalProperties": False,
              "properties": {"file_path": {"type": "string"}, "prediction": {"type": "array", "items": item}}}
    return {"type": "object", "required": ["classes", "date", "task", "version", "results"],
            "additionalProperties": False,
            "properties": {"classes": {"type": "array", "items": _CLASS},
                           "date": {"type": "string", "format": "date-time"},
                           "task": {"type": "string", "enum": [task]},
                           "version": {"type": "string"},
                           "results": {"type": "array", "items": result}}}


#: JSON schema of a classification document.
CLASSIFICATION_SCHEMA = _document_schema(Tasks.CLASSIFICATION, _CLASSIFICATION_ITEM)
#: JSON schema of a detection document.
DETECTION_SCHEMA = _document_schema(Tasks.OBJECT_DETECTION, _DETECTION_ITEM)
#: JSON schema (draft 7 subset) of any predict JSON document.
RESULT_SCHEMA = {"$schema": "http://json-schema.org/draft-07/schema#", "title": "lmnet predict output",
                 "oneOf": [CLASSIFICATION_SCHEMA, DETECTION_SCHEMA]}


def class_entry(class_id, classes):
    """``{"id": class_id, "name": classes[class_id]}``."""
    class_id = int(class_id)
    return {"id": class_id, "name": str(classes[class_id])}


def classes_entry(classes):
    """The document's ``classes``: ``[{id, name}]`` in class order."""
    return [class_entry(i, classes) for i in range(len(classes))]


def classification_prediction(probabilities, classes):
    """One image's classification ``prediction``: every class with its probability.

    Args:
        probabilities: ``[C]`` (or anything that flattens to it).
        classes: the ``C`` class names.

    Raises:
        ValueError: the output does not have one value per class.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    if len(probabilities) != len(classes):
        raise ValueError(f"classification output has {len(probabilities)} values for {len(classes)} classes")
    return [{"class": class_entry(i, classes), "probability": float(p)} for i, p in enumerate(probabilities)]


def detection_prediction(boxes, classes, input_size, image_size):
    """One image's detection ``prediction``, boxes moved from network-input to raw-image pixels.

    Args:
        boxes: ``[N, 6]`` rows ``(x, y, w, h, class_id, score)`` in pixels of the network input;
            padding rows (class id ``-1``) are left out.
        classes: the class names.
        input_size: ``(height, width)`` of the network input.
        image_size: ``(height, width)`` of the raw image.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 6)
    scale_y = image_size[0] / input_size[0]
    scale_x = image_size[1] / input_size[1]
    prediction = []
    for row in scale_xywh(boxes[boxes[:, 4] >= 0], scale_x, scale_y):
        box = [float(v) for v in row[:4]]
        prediction.append({"box": box, "class": class_entry(int(round(row[4])), classes), "score": float(row[5])})
    return prediction


def image_prediction(task, output, classes, input_size, image_size):
    """The ``prediction`` of one image from its post-processed output, by task."""
    return get_task(task).image_prediction(output, classes, input_size, image_size)


def result_document(task, classes, results, date=None):
    """The whole JSON document of one batch.

    Args:
        task: a :class:`lmnet.common.Tasks` value.
        classes: the class names.
        results: ``[{"file_path", "prediction"}]``.
        date: a ``datetime`` (default: now, UTC).
    """
    date = date or datetime.datetime.now(datetime.timezone.utc)
    return {"classes": classes_entry(classes), "date": date.isoformat(), "task": task,
            "version": lmnet.__version__, "results": list(results)}


# ---------------------------------------------------------------- validation

_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def _type_ok(value, name):
    """Whether ``value`` has the JSON schema type ``name``."""
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, _TYPES[name])


def _date_time_ok(value):
    """Whether ``value`` is an ISO 8601 date-time."""
    try:
        datetime.datetime.fromisoformat(value)
    except ValueError:
        return False
    return "T" in value


def _check_object(value, schema, where):
    """Errors of the object keywords ``required``, ``properties`` and ``additionalProperties``."""
    errors = [f"{where}: missing '{key}'" for key in schema.get("required", ()) if key not in value]
    properties = schema.get("properties", {})
    for key, item in value.items():
        if key in properties:
            errors += schema_errors(item, properties[key], f"{where}.{key}")
        elif schema.get("additionalProperties") is False:
            errors.append(f"{where}: unexpected key '{key}'")
    return errors


def _check_array(value, schema, where):
    """Errors of the array keywords ``minItems``, ``maxItems`` and ``items``."""
    errors = []
    if len(value) < schema.get("minItems", 0):
        errors.append(f"{where}: fewer than {schema['minItems']} items")
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        errors.append(f"{where}: more than {schema['maxItems']} items")
    for index, item in enumerate(value):
        errors += schema_errors(item, schema.get("items", {}), f"{where}[{index}]")
    return errors


def _check_scalar(value, schema, where):
    """Errors of ``enum``, ``minimum`` and ``format: date-time``."""
    errors = []
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} not one of {schema['enum']}")
    if "minimum" in schema and _type_ok(value, "number") and value < schema["minimum"]:
        errors.append(f"{where}: {value!r} below {schema['minimum']}")
    if schema.get("format") == "date-time" and isinstance(value, str) and not _date_time_ok(value):
        errors.append(f"{where}: {value!r} is not an ISO 8601 date-time")
    return errors


def schema_errors(value, schema, where="$"):
    """Validates ``value`` against the JSON schema subset used here; returns the error messages.

    Supported keywords: ``type``, ``required``, ``properties``, ``additionalProperties`` (false),
    ``items``, ``minItems``, ``maxItems``, ``enum``, ``minimum``, ``format`` (``date-time``) and
    ``oneOf``. Other keywords are ignored.
    """
    if "oneOf" in schema:
        matches = [not schema_errors(value, option, where) for option in schema["oneOf"]]
        if sum(matches) != 1:
            details = "; ".join(schema_errors(value, option, where)[0] for option, ok in
                                zip(schema["oneOf"], matches) if not ok)
            return [f"{where}: matches {sum(matches)} of the oneOf schemas, expected 1 ({details})"]
    if "type" in schema and not _type_ok(value, schema["type"]):
        return [f"{where}: expected {schema['type']}, got {type(value).__name__}"]
    errors = _check_scalar(value, schema, where)
    if isinstance(value, dict):
        errors += _check_object(value, schema, where)
    elif isinstance(value, list):
        errors += _check_array(value, schema, where)
    return errors


def validate_document(document, schema=None):
    """Raises ``ValueError`` listing the first errors when ``document`` does not match ``schema``.

    Args:
        document: a parsed predict JSON document.
        schema: default :data:`RESULT_SCHEMA`.
    """
    errors = schema_errors(document, RESULT_SCHEMA if schema is None else schema)
    if errors:
        raise ValueError("predict JSON does not match the schema: " + "; ".join(errors[:5]))
