"""Drawing predictions on images: boxes with labels, top classes, heat maps (NumPy and Pillow only).

One module draws for every consumer: predict.py and the standalone runtime (``images/``), the
TensorBoard summaries of detectors and the evaluation report. The standalone runtime imports it, so it
must never import TensorFlow (``tests/test_runtime.py`` runs the runtime with TensorFlow absent).

Conventions:

* a box row is ``(x, y, w, h, class_id[, score])`` in the pixels of the image it is drawn on; rows
  with class ``-1`` (padding) are skipped;
* each class has one colour, :func:`class_color` (from :data:`PALETTE`), unless the caller gives one
  colour for all boxes (ground truth against predictions);
* a label (``"square 0.87"``) is written on a filled background of the box's colour, in black or
  white, whichever contrasts more; it sits above the box when there is room, else inside its top,
  moves clear of labels already placed when it can, and always lies inside the image;
* box lines and label backgrounds are edged with a pixel of that text colour, so that they show on a
  background of their own colour too.
"""
import functools

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from lmnet.errors import LmnetError
from lmnet.tasks import get_task

GROUND_TRUTH_COLOR = (0, 255, 0)
PREDICTION_COLOR = (255, 48, 48)

#: One colour per class id (class ``i`` gets ``PALETTE[i % len(PALETTE)]``): saturated hues that stay
#: apart from each other, ordered so that neighbouring ids differ most.
PALETTE = (
    (235, 64, 52),    # red
    (31, 119, 230),   # blue
    (46, 160, 67),    # green
    (255, 160, 20),   # orange
    (150, 70, 200),   # violet
    (0, 190, 200),    # cyan
    (230, 60, 170),   # magenta
    (160, 200, 30),   # lime
    (120, 80, 40),    # brown
    (255, 220, 0),    # yellow
    (0, 110, 110),    # teal
    (130, 130, 130),  # grey
)

#: Boxes scoring below this are left out of drawn prediction images by default (the JSON and npy outputs
#: keep every box the post-processor returns). Chosen on the README demo's detector (200 validation images):
#: its correct boxes score 0.97 in the median (95 % above 0.51), its wrong-class boxes on an object 0.16
#: (three in four below 0.31); at 0.5 the pictures keep 95 % of the correct boxes and 72 of the 758 wrong
#: ones (114 at 0.4).
DEFAULT_DISPLAY_THRESHOLD = 0.5
#: Drawn prediction images are enlarged (by an integer factor) until their shorter side reaches this.
DISPLAY_MIN_SIDE = 256
#: Number of top classes written on a drawn classification image.
DISPLAY_TOP_CLASSES = 3


def check_display_threshold(value):
    """``value`` as a float when it is a score in ``[0, 1]``.

    Raises:
        LmnetError: it is not (the message names ``--display_threshold``).
    """
    try:
        threshold = float(value)
    except (TypeError, ValueError):
        threshold = float("nan")
    if not 0.0 <= threshold <= 1.0:
        raise LmnetError(f"--display_threshold must be a score between 0 and 1, got {value!r}")
    return threshold


def to_display_uint8(image):
    """Rescales any image (pre-processed floats included) to RGB ``uint8`` for display."""
    image = np.asarray(image, dtype=np.float32)
    low, high = float(image.min()), float(image.max())
    if low >= 0 and high <= 255 and high > 1.0:
        return np.clip(image + 0.5, 0, 255).astype(np.uint8)
    scale = 255.0 / (high - low) if high > low else 0.0
    return np.clip((image - low) * scale + 0.5, 0, 255).astype(np.uint8)


def class_color(class_id):
    """The RGB colour of a class id (:data:`PALETTE`, repeating after its last colour)."""
    return PALETTE[int(class_id) % len(PALETTE)]


def text_color(background):
    """Black or white, whichever contrasts more with the RGB ``background`` (WCAG contrast ratio)."""
    channels = np.asarray(background, dtype=np.float64) / 255.0
    linear = np.where(channels <= 0.04045, channels / 12.92, ((channels + 0.055) / 1.055) ** 2.4)
    luminance = float(linear @ [0.2126, 0.7152, 0.0722])
    return (0, 0, 0) if (luminance + 0.05) / 0.05 >= 1.05 / (luminance + 0.05) else (255, 255, 255)


@functools.lru_cache(maxsize=16)
def label_font(size):
    """Pillow's built-in font at ``size`` pixels (a scalable one when Pillow has FreeType)."""
    return ImageFont.load_default(size=size)


def _font_size(font):
    """The pixel size of a Pillow font (11 for the bitmap font Pillow falls back to without FreeType)."""
    return int(getattr(font, "size", 11))


def style_for(canvas_size):
    """``(line width, font size)`` in pixels for a canvas of ``(height, width)``: both grow with its shorter side."""
    side = min(canvas_size)
    return max(1, round(side / 128)), int(np.clip(round(side / 20), 10, 32))


def draw_boxes(image, boxes, classes, color=None, with_scores=False):
    """Draws ``(x, y, w, h, class_id[, score])`` rows on a copy of ``image``; rows with class −1 are skipped.

    Boxes are outlined first (the lowest score first, so the best box lies on top), then labelled, the
    best box first, each label placed by :func:`place_label`.

    Args:
        image: ``(height, width, 3)`` array (any range; see :func:`to_display_uint8`).
        boxes: ``[N, 5]`` or ``[N, 6]`` array in the image's pixels.
        classes: class names.
        color: RGB colour of every box and label background, or ``None`` for each class's own
            (:func:`class_color`).
        with_scores: append the score (6th column) to the label.

    Returns:
        RGB ``uint8`` array with the boxes drawn.
    """
    canvas = Image.fromarray(to_display_uint8(image))
    rows = _drawable_rows(boxes)
    line_width, font_size = style_for((canvas.height, canvas.width))
    draw = ImageDraw.Draw(canvas)
    for row in rows[::-1]:
        draw_box(draw, row[:4], _row_color(row, color), line_width)
    taken = []
    for row in rows:
        label = _label_text(row, classes, with_scores)
        taken.append(draw_label(draw, label, row[:4], _row_color(row, color), label_font(font_size),
                                (canvas.height, canvas.width), taken))
    return np.asarray(canvas)


def draw_box(draw, box, color, line_width):
    """Outlines ``box`` ``(x, y, w, h)`` in ``color``, edged on both sides by a pixel of its :func:`text_color`,
    so that the box shows on a background of its own colour too."""
    x, y, w, h = (float(v) for v in box)
    right, bottom = x + max(w, 1.0) - 1, y + max(h, 1.0) - 1
    draw.rectangle([x - 1, y - 1, right + 1, bottom + 1], outline=text_color(color), width=line_width + 2)
    draw.rectangle([x, y, right, bottom], outline=tuple(color), width=line_width)


def _drawable_rows(boxes):
    """The rows of ``boxes`` with a class id ``>= 0`` as ``[N, 5 or 6]`` floats, the highest score first."""
    boxes = np.asarray(boxes, dtype=np.float64)
    rows = boxes.reshape(-1, boxes.shape[-1] if boxes.size else 5)
    rows = rows[rows[:, 4] >= 0]
    if rows.shape[1] > 5:
        rows = rows[np.argsort(-rows[:, 5], kind="stable")]
    return rows


def _row_color(row, color):
    """The given colour, or the colour of the row's class."""
    return tuple(color) if color is not None else class_color(row[4])


def _label_text(row, classes, with_scores):
    """``"name"`` or ``"name 0.87"`` of one box row (the class id when it has no name)."""
    class_id = int(row[4])
    label = classes[class_id] if class_id < len(classes) else str(class_id)
    if with_scores and len(row) > 5:
        label = f"{label} {float(row[5]):.2f}"
    return label


def draw_label(draw, text, box, background, font, canvas_size, taken=()):
    """Writes ``text`` on a filled ``background`` next to ``box`` (see :func:`place_label`).

    Args:
        draw: a Pillow ``ImageDraw`` of the canvas.
        text: the label.
        box: ``(x, y, w, h)`` of the box it names.
        background: RGB fill; the text is black or white (:func:`text_color`).
        font: a Pillow font.
        canvas_size: ``(height, width)`` of the canvas.
        taken: ``(left, top, right, bottom)`` of labels already drawn, to keep clear of.

    Returns:
        ``(left, top, right, bottom)`` of the drawn label (inclusive pixel bounds).
    """
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    padding = max(2, _font_size(font) // 5)
    size = (right - left + 2 * padding, bottom - top + 2 * padding)
    x, y = place_label(box, size, canvas_size, taken)
    rectangle = (x, y, x + size[0] - 1, y + size[1] - 1)
    draw.rectangle(rectangle, fill=tuple(background), outline=text_color(background))
    draw.text((x + padding - left, y + padding - top), text, fill=text_color(background), font=font)
    return rectangle


def place_label(box, size, canvas_size, taken=()):
    """Top-left corner of a label of ``size`` ``(width, height)`` naming ``box`` ``(x, y, w, h)``.

    Tried in order: above the box (on its top edge, left-aligned), inside its top, below it, inside its
    bottom; each position is first shifted into the canvas ``(height, width)``. The first one clear of
    every ``taken`` rectangle wins; when none is, the first one (above when there is room, else inside).

    Returns:
        ``(x, y)`` integers with the whole label inside the canvas (as far as it fits at all).
    """
    x, y, w, h = (float(v) for v in box)
    width, height = size
    left, top, bottom = int(round(x)), int(round(y)), int(round(y + h))
    candidates = [(left, top - height), (left, top), (left, bottom), (left, bottom - height)]
    if top - height < 0:
        candidates = candidates[1:] + candidates[:1]
    placed = [_clamp_to_canvas(corner, size, canvas_size) for corner in candidates]
    for corner in placed:
        if not any(_overlaps((*corner, corner[0] + width - 1, corner[1] + height - 1), other) for other in taken):
            return corner
    return placed[0]


def _clamp_to_canvas(corner, size, canvas_size):
    """``corner`` moved so that a rectangle of ``size`` from it lies inside the canvas (left/top win on overflow)."""
    (x, y), (width, height), (canvas_height, canvas_width) = corner, size, canvas_size
    return max(0, min(x, canvas_width - width)), max(0, min(y, canvas_height - height))


def _overlaps(first, second):
    """Whether two inclusive ``(left, top, right, bottom)`` rectangles share a pixel."""
    return not (first[2] < second[0] or second[2] < first[0] or first[3] < second[1] or second[3] < first[1])


def enlarge_for_display(image, min_side=DISPLAY_MIN_SIDE):
    """``(image enlarged by an integer factor until its shorter side reaches min_side, factor)``."""
    factor = max(1, -(-min_side // max(1, min(image.shape[:2]))))
    if factor == 1:
        return image, 1
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1), factor


def draw_prediction(image, prediction, task, classes, display_threshold=DEFAULT_DISPLAY_THRESHOLD):
    """The raw image enlarged for display (:func:`enlarge_for_display`) with its prediction drawn.

    Args:
        image: the raw RGB ``uint8`` image.
        prediction: its JSON ``prediction`` list (:mod:`lmnet.runtime.results`).
        task: a :class:`lmnet.common.Tasks` value; its :class:`lmnet.tasks.Task` draws.
        classes: the class names.
        display_threshold: detection boxes scoring below it are not drawn.
    """
    canvas, factor = enlarge_for_display(image)
    return get_task(task).draw(canvas, prediction, classes, factor, display_threshold=display_threshold)


def draw_predicted_boxes(canvas, prediction, classes, factor, display_threshold=DEFAULT_DISPLAY_THRESHOLD):
    """The predicted boxes scoring at least ``display_threshold``, scaled by ``factor`` and clipped to the
    canvas for drawing only (the JSON keeps them as predicted), in their class colours with name and score."""
    shown = [item for item in prediction if item["score"] >= display_threshold]
    return draw_boxes(canvas, _display_rows(shown, factor, canvas.shape[:2]), classes, with_scores=True)


def _display_rows(prediction, factor, canvas_size):
    """``[N, 6]`` rows of the predicted boxes scaled by ``factor`` and clipped to the canvas."""
    height, width = canvas_size
    rows = np.zeros((len(prediction), 6))
    for index, item in enumerate(prediction):
        x, y, w, h = (v * factor for v in item["box"])
        left, top = min(max(x, 0.0), width - 1.0), min(max(y, 0.0), height - 1.0)
        right, bottom = min(max(x + w, left + 1.0), width), min(max(y + h, top + 1.0), height)
        rows[index] = [left, top, right - left, bottom - top, item["class"]["id"], item["score"]]
    return rows


def draw_top_classes(canvas, prediction, count=DISPLAY_TOP_CLASSES):
    """The ``count`` most probable classes with their probabilities in the top-left corner: white lines on a
    black panel, each led by a swatch of the class colour."""
    top = sorted(prediction, key=lambda item: -item["probability"])[:count]
    drawn = Image.fromarray(np.ascontiguousarray(canvas))
    draw = ImageDraw.Draw(drawn)
    font = label_font(style_for(canvas.shape[:2])[1])
    margin = max(2, _font_size(font) // 4)
    lines = [(f"{item['class']['name']} {item['probability']:.3f}", class_color(item["class"]["id"])) for item in top]
    boxes = [draw.textbbox((0, 0), text, font=font) for text, _ in lines]
    line_height = max((bottom - text_top for _, text_top, _, bottom in boxes), default=0) + 2 * margin
    swatch = line_height - 2 * margin
    width = max((right - left for left, _, right, _ in boxes), default=0) + swatch + 4 * margin
    if lines:
        draw.rectangle([0, 0, min(width, drawn.width) - 1, min(line_height * len(lines), drawn.height) - 1],
                       fill=(0, 0, 0))
    for index, ((text, color), (left, text_top, _, _)) in enumerate(zip(lines, boxes)):
        y = index * line_height + margin
        draw.rectangle([margin, y, margin + swatch - 1, y + swatch - 1], fill=color)
        draw.text((swatch + 3 * margin - left, y - text_top), text, fill=(255, 255, 255), font=font)
    return np.asarray(drawn)


def overlay_heatmap(image, heatmap, opacity=0.55):
    """``image`` in grey with a ``[0, 1]`` ``heatmap`` blended over it in the :data:`HEAT_STOPS` colours
    (the image's own colours would mix with the map's, so only its brightness is kept).

    Args:
        image: RGB ``uint8`` ``(height, width, 3)``.
        heatmap: ``(h, w)`` values in ``[0, 1]``; resized bilinearly to the image.
        opacity: weight of the heat map colours (0 keeps the grey image, 1 shows the map alone).

    Returns:
        RGB ``uint8`` array of the image's size.
    """
    height, width = image.shape[:2]
    values = np.clip(np.asarray(heatmap, dtype=np.float32), 0.0, 1.0)
    resized = np.asarray(Image.fromarray(values).resize((width, height), Image.BILINEAR))
    grey = np.asarray(Image.fromarray(np.ascontiguousarray(image)).convert("L"), dtype=np.float32)[..., None]
    blended = (1.0 - opacity) * grey + opacity * heat_colors(resized)
    return np.clip(blended + 0.5, 0, 255).astype(np.uint8)


#: Colour scales as RGB stops evenly spaced from 0 to 1 (see :func:`scale_colors`): ``HEAT`` (blue to red) for
#: activation maps over images, ``FEATURE`` (dark blue through teal to light yellow, brighter as it rises) for
#: feature maps.
HEAT_STOPS = np.array([(20, 20, 140), (0, 120, 255), (0, 220, 180), (250, 230, 0), (255, 120, 0), (220, 0, 0)],
                      dtype=np.float32)
FEATURE_STOPS = np.array([(15, 15, 60), (80, 45, 140), (30, 140, 150), (150, 210, 70), (255, 245, 170)],
                         dtype=np.float32)


def heat_colors(values):
    """RGB floats ``(..., 3)`` of ``[0, 1]`` values on the :data:`HEAT_STOPS` scale."""
    return scale_colors(values, HEAT_STOPS)


def scale_colors(values, stops):
    """RGB floats ``(..., 3)`` of ``[0, 1]`` values, interpolated linearly between ``stops`` ``[S, 3]``."""
    position = np.clip(np.asarray(values, dtype=np.float32), 0.0, 1.0) * (len(stops) - 1)
    low = np.minimum(np.floor(position).astype(int), len(stops) - 2)
    fraction = (position - low)[..., None]
    return (1.0 - fraction) * stops[low] + fraction * stops[low + 1]
