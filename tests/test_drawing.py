"""lmnet.visualize: labels inside the image, one colour per class, readable text, the display threshold."""
import json
import os

import numpy as np
import pytest
from PIL import Image

from lmnet.common import Tasks
from lmnet.errors import LmnetError
from lmnet.runtime.inference import BatchPredictor, ModelSpec, predict_folder
from lmnet.visualize import (PALETTE, check_display_threshold, class_color, draw_boxes, draw_prediction,
                             place_label, text_color)

CLASSES = ["circle", "square", "star", "triangle"]
GRAY = 128


def pixels_of(drawn, color, tolerance=0):
    """``(ys, xs)`` of the pixels of ``color`` (each channel within ``tolerance``)."""
    difference = np.abs(drawn.astype(int) - np.array(color))
    return np.nonzero(np.all(difference <= tolerance, axis=-1))


def whole_label(box=(40, 60, 20, 20), canvas_size=(120, 100)):
    """The pixels of the label of ``box`` drawn where it fits whole: above a box in the middle of the canvas."""
    drawn = draw_boxes(np.full((*canvas_size, 3), GRAY, np.uint8), [[*box, 2, 0.87]], CLASSES, with_scores=True)
    above = drawn[:box[1] - 1]  # the label lies on the box's top edge, clear of its outline
    ys, xs = np.nonzero(np.any(above != GRAY, axis=-1))
    return above[ys.min():ys.max() + 1, xs.min():xs.max() + 1]


def contains(drawn, patch):
    """Whether ``patch`` appears, pixel for pixel, somewhere in ``drawn``."""
    windows = np.lib.stride_tricks.sliding_window_view(drawn, patch.shape)[..., 0, :, :, :]
    return bool(np.all(windows == patch, axis=(-3, -2, -1)).any())


def test_label_near_the_edges_stays_inside_the_image():
    label = whole_label()
    assert label.shape[0] > 8 and label.shape[1] > 40  # "triangle 0.87" on its background
    assert len(pixels_of(label, text_color(class_color(2)), tolerance=40)[0]) > 20  # its text
    canvas = np.full((120, 100, 3), GRAY, np.uint8)
    edges = {"top-right": (85, 0, 15, 20), "bottom-left": (0, 110, 12, 10), "bottom-right": (90, 112, 10, 8),
             "whole image": (0, 0, 100, 120), "past the right edge": (95, 50, 30, 20)}
    for where, box in edges.items():
        drawn = draw_boxes(canvas, [[*box, 2, 0.87]], CLASSES, with_scores=True)
        assert contains(drawn, label), f"{where}: the label is cut by the image's edge"


def test_label_goes_above_the_box_when_there_is_room_else_inside():
    size, canvas = (30, 12), (100, 100)
    assert place_label((40, 50, 20, 20), size, canvas) == (40, 38)  # on top of the box
    assert place_label((40, 5, 20, 20), size, canvas) == (40, 5)  # no room above: inside its top
    assert place_label((90, 50, 10, 10), size, canvas) == (70, 38)  # shifted left into the canvas
    # a second label for the same box moves clear of the first
    first = place_label((40, 50, 20, 20), size, canvas)
    taken = [(first[0], first[1], first[0] + 29, first[1] + 11)]
    assert place_label((40, 50, 20, 20), size, canvas, taken) == (40, 50)


def test_each_class_has_its_own_colour_and_readable_text():
    assert len(set(PALETTE)) == len(PALETTE)
    assert [class_color(i) for i in range(3)] == list(PALETTE[:3]) and class_color(len(PALETTE)) == PALETTE[0]
    canvas = np.full((100, 200, 3), GRAY, np.uint8)
    boxes = [[5, 30, 30, 30, 0, 0.9], [120, 30, 30, 30, 1, 0.8]]
    drawn = draw_boxes(canvas, boxes, CLASSES, with_scores=True)
    left, right = drawn[:, :100], drawn[:, 100:]
    assert len(pixels_of(left, class_color(0))[0]) and not len(pixels_of(left, class_color(1))[0])
    assert len(pixels_of(right, class_color(1))[0]) and not len(pixels_of(right, class_color(0))[0])
    assert text_color((255, 220, 0)) == (0, 0, 0) and text_color((20, 20, 140)) == (255, 255, 255)
    # one colour for all boxes (ground truth) when the caller gives one
    green = draw_boxes(canvas, boxes, CLASSES, (0, 255, 0))
    assert not len(pixels_of(green, class_color(0))[0]) and len(pixels_of(green, (0, 255, 0))[0])


def test_padding_rows_and_empty_boxes_draw_nothing():
    canvas = np.full((40, 40, 3), GRAY, np.uint8)
    assert (draw_boxes(canvas, np.zeros((0, 6)), CLASSES) == canvas).all()
    assert (draw_boxes(canvas, [[1, 1, 5, 5, -1, 0.0]], CLASSES) == canvas).all()


def test_display_threshold_leaves_weak_boxes_out_of_the_picture():
    image = np.full((64, 64, 3), GRAY, np.uint8)
    prediction = [{"box": [4.0, 4.0, 20.0, 20.0], "class": {"id": 0, "name": "circle"}, "score": 0.9},
                  {"box": [40.0, 40.0, 20.0, 20.0], "class": {"id": 1, "name": "square"}, "score": 0.25}]
    default = draw_prediction(image, prediction, Tasks.OBJECT_DETECTION, CLASSES)
    assert default.shape == (256, 256, 3)  # enlarged 4 times for display
    assert len(pixels_of(default, class_color(0))[0]) and not len(pixels_of(default, class_color(1))[0])
    everything = draw_prediction(image, prediction, Tasks.OBJECT_DETECTION, CLASSES, display_threshold=0.0)
    assert len(pixels_of(everything, class_color(1))[0])
    assert check_display_threshold("0.5") == 0.5
    for bad in (1.5, -0.1, "high"):
        with pytest.raises(LmnetError, match="--display_threshold must be a score between 0 and 1"):
            check_display_threshold(bad)


def test_classification_panel_names_the_top_classes_in_their_colours():
    image = np.full((32, 32, 3), GRAY, np.uint8)
    prediction = [{"class": {"id": i, "name": name}, "probability": p}
                  for i, (name, p) in enumerate(zip(CLASSES, [0.1, 0.6, 0.25, 0.05]))]
    drawn = draw_prediction(image, prediction, Tasks.CLASSIFICATION, CLASSES)
    assert drawn.shape == (256, 256, 3)
    swatch_rows = [pixels_of(drawn, class_color(i))[0].mean() for i in (1, 2, 0)]
    assert swatch_rows == sorted(swatch_rows)  # most probable first
    assert not len(pixels_of(drawn, class_color(3))[0])  # only the top three


def test_predict_folder_draws_only_confident_boxes_but_writes_every_box(tmp_path):
    """The shared prediction loop (predict.py and the runtime) with a fixed network function."""
    rows = np.array([[2, 2, 12, 12, 0, 0.9], [18, 18, 12, 12, 1, 0.25], [0, 0, 0, 0, -1, 0]], np.float32)
    spec = ModelSpec(task=Tasks.OBJECT_DETECTION, classes=CLASSES, image_size=(32, 32))
    predictor = BatchPredictor(spec, lambda images: np.repeat(rows[None], len(images), axis=0))
    images_dir = tmp_path / "images_in"
    images_dir.mkdir()
    Image.fromarray(np.full((64, 64, 3), GRAY, np.uint8)).save(images_dir / "gray.png")
    for threshold, weak_drawn in ((0.4, False), (0.2, True)):
        output = tmp_path / f"out_{threshold}"
        predict_folder(predictor, str(images_dir), str(output), 1, progress=False, log=lambda *_: None,
                       display_threshold=threshold)
        with open(output / "json" / "0.json") as stream:
            scores = [item["score"] for item in json.load(stream)["results"][0]["prediction"]]
        assert scores == pytest.approx([0.9, 0.25])
        drawn = np.asarray(Image.open(os.path.join(output, "images", "gray.png")).convert("RGB"))
        assert len(pixels_of(drawn, class_color(0))[0]) > 0
        assert (len(pixels_of(drawn, class_color(1))[0]) > 0) == weak_drawn
    with pytest.raises(LmnetError, match="--display_threshold"):
        predict_folder(predictor, str(images_dir), str(tmp_path / "bad"), 1, progress=False, display_threshold=2)
