"""Tasks as objects: every task string has a Task that implements every task-specific method."""
import numpy as np
import pytest

from lmnet.common import Tasks
from lmnet.errors import ConfigError
from lmnet.pre_processor import Resize, ResizeWithGtBoxes
from lmnet.tasks import TASKS, Task, get_task

METHODS = [name for name, value in vars(Task).items() if callable(value) and not name.startswith("_")]


def test_every_task_string_has_a_task_object():
    assert sorted(TASKS) == sorted(Tasks.ALL)
    with pytest.raises(ConfigError, match="unknown task 'IMAGE.SEGMENTATION'"):
        get_task("IMAGE.SEGMENTATION")


@pytest.mark.parametrize("name", sorted(TASKS))
@pytest.mark.parametrize("method", METHODS)
def test_every_task_implements_every_method(name, method):
    assert getattr(type(get_task(name)), method) is not getattr(Task, method), f"{name} lacks {method}"


def test_resize_moves_the_labels_of_the_task():
    assert type(get_task(Tasks.CLASSIFICATION).resize([8, 8])) is Resize
    assert type(get_task(Tasks.OBJECT_DETECTION).resize([8, 8])) is ResizeWithGtBoxes


def test_predictions_and_drawings_by_task():
    classes = ["a", "b"]
    canvas = np.zeros((16, 16, 3), np.uint8)
    top = get_task(Tasks.CLASSIFICATION).image_prediction(np.array([0.25, 0.75]), classes, (16, 16), (16, 16))
    assert max(top, key=lambda item: item["probability"])["class"]["name"] == "b"
    rows = np.array([[2, 2, 4, 4, 1, 0.9], [0, 0, 0, 0, -1, 0]], np.float32)
    boxes = get_task(Tasks.OBJECT_DETECTION).image_prediction(rows, classes, (16, 16), (32, 32))
    assert boxes == [{"box": [4.0, 4.0, 8.0, 8.0], "class": {"id": 1, "name": "b"}, "score": pytest.approx(0.9)}]
    for task, prediction in ((Tasks.CLASSIFICATION, top), (Tasks.OBJECT_DETECTION, boxes)):
        drawn = get_task(task).draw(canvas, prediction, classes, factor=1)
        assert drawn.shape == canvas.shape and drawn.any()
