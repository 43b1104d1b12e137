"""The first layers' feature maps of a network for a few images, as one picture (for the evaluation report).

The layers shown are the network's first *activations*, in model order: each activation quantizer
(:class:`lmnet.layers.QuantizedActivation`), ReLU, leaky ReLU or ``Activation`` layer, and each
convolution with a built-in non-linear activation (VGG16's). For an activation quantizer both sides are
shown, channel by channel: the float map entering it (the batch norm's output, before the quantizer) and
the quantized map leaving it (what the next layer — and the hardware — sees, on the quantizer's few
levels); the pair shares one colour scale. For other activations the output alone is shown.

Of each layer, the ``channels`` channels whose (quantized, else float) maps vary most over the given
images are drawn, in channel order, so that dead channels do not take the space.

Usage (``images``: a pre-processed validation batch; ``raw``: the same images as RGB ``uint8``)::

    png = feature_maps_png(network.model, images, display_images=raw)   # bytes of one PNG

Composed with NumPy and Pillow (a grid of dozens of small panels; matplotlib takes seconds for as many axes).
"""
import dataclasses
import io

import keras
import numpy as np
from PIL import Image, ImageDraw

from lmnet.layers import QuantizedActivation
from lmnet.visualize import FEATURE_STOPS, label_font, scale_colors, to_display_uint8

#: Layers shown by default, and channels of each.
DEFAULT_LAYERS, DEFAULT_CHANNELS = 3, 4
#: Keras layers that are an activation by themselves.
ACTIVATION_LAYERS = (QuantizedActivation, keras.layers.ReLU, keras.layers.LeakyReLU, keras.layers.Activation)


@dataclasses.dataclass
class LayerMaps:
    """The maps of one layer for a batch of images.

    Attributes:
        name: the layer's name.
        channels: the channel indices shown.
        float_maps: ``[B, h, w, len(channels)]``: the quantizer's input, or the activation's output.
        quantized_maps: ``[B, h, w, len(channels)]`` after the activation quantizer, or ``None`` when the
            layer is not one.
    """

    name: str
    channels: list
    float_maps: np.ndarray
    quantized_maps: np.ndarray = None


def is_activation(layer):
    """Whether ``layer`` is an activation: an activation layer, or a convolution with a non-linear activation."""
    if isinstance(layer, ACTIVATION_LAYERS):
        return True
    activation = getattr(layer, "activation", None)
    return isinstance(layer, keras.layers.Conv2D) and activation not in (None, keras.activations.linear)


def feature_layers(model, count=DEFAULT_LAYERS):
    """The first ``count`` activation layers of ``model`` with a spatial (4-D) output, in model order."""
    layers = [layer for layer in model.layers if is_activation(layer) and len(layer.output.shape) == 4]
    return layers[:count]


def collect_feature_maps(model, images, layers=DEFAULT_LAYERS, channels=DEFAULT_CHANNELS):
    """The :class:`LayerMaps` of the first ``layers`` activations of ``model`` for a pre-processed batch.

    Args:
        model: a Keras model (a network's ``model``).
        images: float32 ``[B, H, W, 3]`` as the model takes them.
        layers: how many activation layers.
        channels: how many channels of each (those that vary most over the images).
    """
    taps = feature_layers(model, layers)
    outputs = []
    for layer in taps:
        outputs += [layer.input, layer.output] if isinstance(layer, QuantizedActivation) else [layer.output]
    values = keras.Model(model.input, outputs)(np.asarray(images, dtype=np.float32), training=False)
    values = [np.asarray(keras.ops.convert_to_numpy(value), dtype=np.float32) for value in values]
    collected = []
    for layer in taps:
        float_maps = values.pop(0)
        quantized = values.pop(0) if isinstance(layer, QuantizedActivation) else None
        chosen = _most_varied_channels(quantized if quantized is not None else float_maps, channels)
        collected.append(LayerMaps(layer.name, chosen, float_maps[..., chosen],
                                   None if quantized is None else quantized[..., chosen]))
    return collected


def _most_varied_channels(maps, count):
    """Indices (ascending) of the ``count`` channels of ``[B, h, w, C]`` with the largest variance."""
    variance = maps.reshape(-1, maps.shape[-1]).var(axis=0)
    return sorted(int(index) for index in np.argsort(-variance, kind="stable")[:count])


#: Each map is enlarged (nearest neighbour, by an integer factor) until its shorter side reaches this.
PANEL_MIN_SIDE = 64
#: Pixels between panels, between a channel's float and quantized panels, and the height of a caption line.
GAP, PAIR_GAP, CAPTION = 6, 2, 14
BACKGROUND, INK = (255, 255, 255), (30, 30, 30)


def feature_maps_image(model, images, display_images=None, layers=DEFAULT_LAYERS, channels=DEFAULT_CHANNELS):
    """One RGB ``uint8`` picture of the feature maps (see the module's description).

    One row per image and layer, captioned with the layer's name and the channels shown: the image (on its
    first row), then for each channel its float map and, for an activation quantizer, its quantized map
    beside it. A channel's panels share one colour scale (:data:`lmnet.visualize.FEATURE_STOPS`, dark for
    its lowest value, light for its highest) over every image, so a value has one colour wherever it appears.

    Args:
        model: a Keras model.
        images: pre-processed float32 ``[B, H, W, 3]``.
        display_images: the same images as RGB ``uint8`` to show (default: ``images`` rescaled).
        layers: how many activation layers.
        channels: how many channels of each.
    """
    maps = collect_feature_maps(model, images, layers, channels)
    shown = [to_display_uint8(image) for image in (images if display_images is None else display_images)]
    rows = []
    for image_index, image in enumerate(shown):
        for layer_index, item in enumerate(maps):
            first = _image_panel(image, maps[0].float_maps.shape[1:3]) if layer_index == 0 else None
            group = 1 if item.quantized_maps is None else 2
            rows.append((f"image {image_index}" if layer_index == 0 else "", _row_caption(item), group,
                         [first] + _layer_panels(item, image_index)))
    quantized = any(item.quantized_maps is not None for item in maps)
    title = "first layers' feature maps" + (": float (before the activation quantizer) and quantized (after it, "
                                            "what the hardware sees), side by side" if quantized else "")
    return _compose(rows, title)


def _row_caption(item):
    """``"conv1_act: channels 3, 7 (float | quantized)"``."""
    channels = ", ".join(str(channel) for channel in item.channels)
    return f"{item.name}: channels {channels}" + (" (float | quantized)" if item.quantized_maps is not None else "")


def _image_panel(image, map_size):
    """The input image at the size of a panel of a map of ``map_size``."""
    factor = _panel_factor(map_size)
    size = (map_size[1] * factor, map_size[0] * factor)
    return np.asarray(Image.fromarray(image).resize(size, Image.NEAREST))


def _panel_factor(map_size):
    """The integer enlargement of a map of ``(h, w)`` (:data:`PANEL_MIN_SIDE`)."""
    return max(1, -(-PANEL_MIN_SIDE // max(1, min(map_size))))


def _layer_panels(item, image_index):
    """The pictures of one layer for one image: each channel's float map, then its quantized map."""
    panels = []
    for position in range(len(item.channels)):
        pair = [item.float_maps[..., position]]
        if item.quantized_maps is not None:
            pair.append(item.quantized_maps[..., position])
        low, high = min(float(maps.min()) for maps in pair), max(float(maps.max()) for maps in pair)
        for maps in pair:
            values = (maps[image_index] - low) / (high - low) if high > low else np.zeros_like(maps[image_index])
            colors = np.clip(scale_colors(values, FEATURE_STOPS) + 0.5, 0, 255).astype(np.uint8)
            factor = _panel_factor(values.shape)
            panels.append(np.repeat(np.repeat(colors, factor, axis=0), factor, axis=1))
    return panels


def _compose(rows, title):
    """``rows`` of ``(first caption, row caption, group, [first picture or None, panels…])`` on a white sheet under
    ``title``.

    Each row gets a caption line: the first caption above the first column, the row caption above the panels.
    The panels come in groups of ``group`` (a channel's float and quantized maps), set closer together than
    two groups.
    """
    font = label_font(11)
    first_width = max(panels[0].shape[1] for _, _, _, panels in rows if panels[0] is not None)
    lefts = [_panel_lefts(panels[1:], group, 2 * GAP + first_width) for _, _, group, panels in rows]
    heights = [max(picture.shape[0] for picture in panels if picture is not None) for _, _, _, panels in rows]
    width = max(left[-1] + panels[-1].shape[1] + GAP for left, (_, _, _, panels) in zip(lefts, rows))
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    sheet = Image.new("RGB", (max(width, int(measure.textlength(title, font=font)) + 2 * GAP),
                              CAPTION + GAP + sum(height + CAPTION + GAP for height in heights)), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    draw.text((GAP, 2), title, fill=INK, font=font)
    y = CAPTION + GAP
    for (first_caption, caption, _, panels), left, height in zip(rows, lefts, heights):
        draw.text((GAP, y), first_caption, fill=INK, font=font)
        draw.text((left[0], y), caption, fill=INK, font=font)
        if panels[0] is not None:
            sheet.paste(Image.fromarray(panels[0]), (GAP, y + CAPTION))
        for picture, x in zip(panels[1:], left):
            sheet.paste(Image.fromarray(picture), (x, y + CAPTION))
        y += height + CAPTION + GAP
    return np.asarray(sheet)


def _panel_lefts(pictures, group, start):
    """The left edge of each picture of a row: :data:`PAIR_GAP` inside a group, ``2 · GAP`` between groups."""
    lefts, x = [], start
    for index, picture in enumerate(pictures):
        lefts.append(x)
        x += picture.shape[1] + (PAIR_GAP if (index + 1) % group else 2 * GAP)
    return lefts


def feature_maps_png(model, images, display_images=None, layers=DEFAULT_LAYERS, channels=DEFAULT_CHANNELS):
    """The bytes of a PNG of :func:`feature_maps_image` (same arguments)."""
    buffer = io.BytesIO()
    Image.fromarray(feature_maps_image(model, images, display_images, layers, channels)).save(buffer, format="PNG")
    return buffer.getvalue()
