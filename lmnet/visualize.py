"""Drawing boxes and labels on images (TensorBoard summaries, predict's output images)."""
import numpy as np
from PIL import Image, ImageDraw

GROUND_TRUTH_COLOR = (0, 255, 0)
PREDICTION_COLOR = (255, 48, 48)


def to_display_uint8(image):
    """Rescales any image (pre-processed floats included) to RGB ``uint8`` for display."""
    image = np.asarray(image, dtype=np.float32)
    low, high = float(image.min()), float(image.max())
    if low >= 0 and high <= 255 and high > 1.0:
        return np.clip(image + 0.5, 0, 255).astype(np.uint8)
    scale = 255.0 / (high - low) if high > low else 0.0
    return np.clip((image - low) * scale + 0.5, 0, 255).astype(np.uint8)


def draw_boxes(image, boxes, classes, color, with_scores=False):
    """Draws ``(x, y, w, h, class_id[, score])`` rows on a copy of ``image``; rows with class −1 are skipped.

    Args:
        image: ``(height, width, 3)`` array (any range; see :func:`to_display_uint8`).
        boxes: ``[N, 5]`` or ``[N, 6]`` array in the image's pixels.
        classes: class names.
        color: RGB outline colour.
        with_scores: append the score (6th column) to the label.

    Returns:
        RGB ``uint8`` array with the boxes drawn.
    """
    canvas = Image.fromarray(to_display_uint8(image))
    draw = ImageDraw.Draw(canvas)
    for row in np.asarray(boxes).reshape(-1, np.asarray(boxes).shape[-1] if np.size(boxes) else 5):
        class_id = int(row[4])
        if class_id < 0:
            continue
        x, y, w, h = (float(v) for v in row[:4])
        draw.rectangle([x, y, x + max(w, 1.0) - 1, y + max(h, 1.0) - 1], outline=color)
        label = classes[class_id] if class_id < len(classes) else str(class_id)
        if with_scores and len(row) > 5:
            label = f"{label} {float(row[5]):.2f}"
        draw.text((x + 1, y + 1), label, fill=color)
    return np.asarray(canvas)
