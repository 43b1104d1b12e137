"""Augmentors: random NumPy transformations applied to training samples only.

Each augmentor is a :class:`~lmnet.data_processor.Processor`. It takes the sample as keyword
arguments (``image`` plus any extra keys) and a ``rng`` (a :class:`numpy.random.Generator`; a fresh
unseeded one when ``None``) and returns the sample as a dict. All randomness comes from ``rng``,
so the same seed gives the same output.

Images are ``(height, width, channels)`` arrays with values in ``[0, 255]``. Colour augmentors
return the input dtype: ``uint8`` stays ``uint8`` (rounded and clipped), anything else comes out
as ``float32`` clipped to ``[0, 255]``.

Ground-truth boxes (``gt_boxes``, rows ``(x, y, w, h, class_id)`` in pixels, padding rows with
``class_id == -1``) are moved by the flips and by :class:`Pad`; :class:`Crop` does not handle them
yet and raises ``NotImplementedError`` rather than leaving them wrong. Colour augmentors pass them
through.
"""
import numpy as np

from lmnet.data_processor import Processor
from lmnet.pre_processor import BOXES_KEY, check_size, reject_boxes, resize_image

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _generator(rng):
    """Returns ``rng``, or a fresh unseeded generator when it is ``None``."""
    return np.random.default_rng() if rng is None else rng


def _check_probability(probability):
    """Validates a probability in ``[0, 1]`` and returns it as a float."""
    if isinstance(probability, bool) or not isinstance(probability, (int, float, np.number)):
        raise ValueError(f"probability must be a number in [0, 1], got {probability!r}")
    if not 0 <= probability <= 1:
        raise ValueError(f"probability must be in [0, 1], got {probability!r}")
    return float(probability)


def _check_range(min_value, max_value, lowest=None):
    """Validates a ``[min_value, max_value]`` range of floats (above ``lowest`` if given)."""
    for value in (min_value, max_value):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
            raise ValueError(f"range bounds must be numbers, got {value!r}")
    if min_value > max_value:
        raise ValueError(f"min_value ({min_value}) must not be greater than max_value ({max_value})")
    if lowest is not None and min_value < lowest:
        raise ValueError(f"min_value must be at least {lowest}, got {min_value}")
    return float(min_value), float(max_value)


def _restore_dtype(result, dtype):
    """Clips to ``[0, 255]``; rounds back to ``uint8`` if ``dtype`` is ``uint8``, else ``float32``."""
    result = np.clip(result, 0, 255)
    if dtype == np.uint8:
        return np.rint(result).astype(np.uint8)
    return result.astype(np.float32, copy=False)


def _require_rgb(image, processor):
    """Raises ValueError unless ``image`` is ``(height, width, 3)``."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{type(processor).__name__} needs an RGB image (height, width, 3), got shape {image.shape}")


def _blend(image, other, factor):
    """``image * factor + other * (1 - factor)`` in float32; exactly ``image`` when ``factor == 1``."""
    factor = np.float32(factor)
    return image * factor + other * (np.float32(1) - factor)


def _grayscale(image):
    """The luma (ITU-R 601) of an RGB float32 image, shape ``(height, width, 1)``."""
    return (image @ _LUMA)[..., None]


# Geometry -------------------------------------------------------------------------------------


def flip_boxes(boxes, extent, axis):
    """Mirrors ground-truth boxes across the image's vertical or horizontal centre line.

    Args:
        boxes: ``(..., 5)`` array of ``(x, y, w, h, class_id)`` in pixels; rows whose class_id is
            ``-1`` are padding and stay untouched.
        extent: the image's width (``axis=0``) or height (``axis=1``) in pixels.
        axis: 0 to flip left-right (moves ``x``), 1 to flip top-bottom (moves ``y``).

    Returns:
        A new array of the same shape and dtype with ``x`` (or ``y``) replaced by
        ``extent - x - w`` (or ``extent - y - h``).
    """
    boxes = np.array(boxes, copy=True)
    _check_boxes(boxes)
    valid = boxes[..., 4] != -1
    position, length = boxes[..., axis], boxes[..., axis + 2]
    boxes[..., axis] = np.where(valid, extent - position - length, position)
    return boxes


def shift_boxes(boxes, left, top):
    """Moves ground-truth boxes by ``(left, top)`` pixels, leaving padding rows untouched.

    Args:
        boxes: ``(..., 5)`` array of ``(x, y, w, h, class_id)``; class_id ``-1`` marks padding.
        left: pixels added to ``x``.
        top: pixels added to ``y``.

    Returns:
        A new array of the same shape and dtype.
    """
    boxes = np.array(boxes, copy=True)
    _check_boxes(boxes)
    valid = boxes[..., 4] != -1
    boxes[..., 0] = np.where(valid, boxes[..., 0] + left, boxes[..., 0])
    boxes[..., 1] = np.where(valid, boxes[..., 1] + top, boxes[..., 1])
    return boxes


def _check_boxes(boxes):
    """Raises ValueError unless the last axis holds ``(x, y, w, h, class_id)``."""
    if boxes.ndim < 1 or boxes.shape[-1] != 5:
        raise ValueError(f"gt_boxes must have shape (..., 5) as (x, y, w, h, class_id), got {boxes.shape}")


def _flip_sample(image, kwargs, axis):
    """Flips the image (axis 1 = left-right, 0 = top-bottom) and any boxes with it."""
    image = np.asarray(image)
    sample = dict(kwargs, image=np.ascontiguousarray(np.flip(image, axis=axis)))
    if kwargs.get(BOXES_KEY) is not None:
        box_axis = 0 if axis == 1 else 1
        sample[BOXES_KEY] = flip_boxes(kwargs[BOXES_KEY], image.shape[axis], box_axis)
    return sample


class FlipLeftRight(Processor):
    """Mirrors the image horizontally (and its ``gt_boxes``) with the given probability.

    Args:
        probability: chance of flipping, in ``[0, 1]``; 0 never flips, 1 always does.
    """

    def __init__(self, probability=0.5):
        self.probability = _check_probability(probability)

    def __call__(self, image, rng=None, **kwargs):
        """Returns the sample, flipped left-right with probability ``probability``."""
        if _generator(rng).random() >= self.probability:
            return dict(kwargs, image=image)
        return _flip_sample(image, kwargs, axis=1)


class FlipTopBottom(Processor):
    """Mirrors the image vertically (and its ``gt_boxes``) with the given probability.

    Args:
        probability: chance of flipping, in ``[0, 1]``; 0 never flips, 1 always does.
    """

    def __init__(self, probability=0.5):
        self.probability = _check_probability(probability)

    def __call__(self, image, rng=None, **kwargs):
        """Returns the sample, flipped top-bottom with probability ``probability``."""
        if _generator(rng).random() >= self.probability:
            return dict(kwargs, image=image)
        return _flip_sample(image, kwargs, axis=0)


class Crop(Processor):
    """Cuts a window of ``size`` at a uniformly random position, optionally resizing first.

    Args:
        size: ``(height, width)`` of the crop, positive integers; must fit inside the (resized)
            image.
        resize: ``(height, width)`` to resize the image to (bilinear) before cropping, or ``None``
            to crop the image as it is.

    Raises:
        ValueError: a size is not two positive integers, or ``resize`` is smaller than ``size``.
    """

    def __init__(self, size, resize=None):
        self.size = check_size(size)
        self.resize = None if resize is None else check_size(resize, "resize")
        if self.resize is not None and (self.resize[0] < self.size[0] or self.resize[1] < self.size[1]):
            raise ValueError(f"Crop: resize {self.resize} is smaller than the crop size {self.size}")

    def __call__(self, image, rng=None, **kwargs):
        """Returns the sample with the cropped image.

        Raises:
            ValueError: the image is smaller than the crop size.
            NotImplementedError: the sample has ``gt_boxes``.
        """
        reject_boxes(self, kwargs)
        image = np.asarray(image)
        if self.resize is not None:
            image = resize_image(image, self.resize)
        (height, width), (image_height, image_width) = self.size, image.shape[:2]
        if image_height < height or image_width < width:
            raise ValueError(f"Crop: image of size ({image_height}, {image_width}) is smaller than the crop size "
                             f"({height}, {width})")
        rng = _generator(rng)
        top = int(rng.integers(0, image_height - height + 1))
        left = int(rng.integers(0, image_width - width + 1))
        return dict(kwargs, image=np.ascontiguousarray(image[top:top + height, left:left + width]))


def _pad_widths(size):
    """Validates ``Pad``'s size and returns ``(vertical, horizontal)`` pixel counts."""
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        size = (size, size)
    if isinstance(size, (str, bytes)) or not hasattr(size, "__len__") or len(size) != 2:
        raise ValueError(f"Pad: size must be an int or a (top/bottom, left/right) pair, got {size!r}")
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 0 for v in size):
        raise ValueError(f"Pad: size must be non-negative integers, got {size!r}")
    return int(size[0]), int(size[1])


class Pad(Processor):
    """Pads the image with a constant border (and shifts its ``gt_boxes``).

    Args:
        size: border width in pixels: an int for all four sides, or a ``(top/bottom, left/right)``
            pair; non-negative.
        fill: the border's pixel value, in ``[0, 255]``.

    Raises:
        ValueError: bad ``size`` or ``fill`` outside ``[0, 255]``.
    """

    def __init__(self, size, fill=0):
        _pad_widths(size)
        if isinstance(fill, bool) or not isinstance(fill, (int, float, np.number)) or not 0 <= fill <= 255:
            raise ValueError(f"Pad: fill must be a number in [0, 255], got {fill!r}")
        self.size = int(size) if isinstance(size, (int, np.integer)) else tuple(int(v) for v in size)
        self.fill = fill

    def __call__(self, image, rng=None, **kwargs):
        """Returns the sample with the padded image, ``2 * size`` pixels taller and wider."""
        image = np.asarray(image)
        vertical, horizontal = _pad_widths(self.size)
        widths = [(vertical, vertical), (horizontal, horizontal)] + [(0, 0)] * (image.ndim - 2)
        sample = dict(kwargs, image=np.pad(image, widths, mode="constant", constant_values=self.fill))
        if kwargs.get(BOXES_KEY) is not None:
            sample[BOXES_KEY] = shift_boxes(kwargs[BOXES_KEY], horizontal, vertical)
        return sample


# Colour ---------------------------------------------------------------------------------------


class Brightness(Processor):
    """Multiplies every pixel by a random factor, then clips to ``[0, 255]``.

    Args:
        min_value: smallest factor, at least 0 (below 1 darkens).
        max_value: largest factor, at least ``min_value`` (above 1 brightens).
    """

    def __init__(self, min_value=0.75, max_value=1.25):
        self.min_value, self.max_value = _check_range(min_value, max_value, lowest=0)

    def __call__(self, image, rng=None, **kwargs):
        """Returns the sample with the brightened or darkened image, in the input dtype."""
        image = np.asarray(image)
        factor = np.float32(_generator(rng).uniform(self.min_value, self.max_value))
        return dict(kwargs, image=_restore_dtype(image.astype(np.float32) * factor, image.dtype))


class Color(Processor):
    """Changes the saturation: blends the image with its grayscale version by a random factor.

    The result is ``gray + factor * (image - gray)``, clipped to ``[0, 255]``.

    Args:
        min_value: smallest factor, at least 0 (0 gives grayscale, below 1 desaturates).
        max_value: largest factor, at least ``min_value`` (above 1 saturates).
    """

    def __init__(self, min_value=0.75, max_value=1.25):
        self.min_value, self.max_value = _check_range(min_value, max_value, lowest=0)

    def __call__(self, image, rng=None, **kwargs):
        """Returns the sample with the re-saturated RGB image, in the input dtype."""
        image = np.asarray(image)
        _require_rgb(image, self)
        factor = _generator(rng).uniform(self.min_value, self.max_value)
        values = image.astype(np.float32)
        return dict(kwargs, image=_restore_dtype(_blend(values, _grayscale(values), factor), image.dtype))


class Contrast(Processor):
    """Changes the contrast: blends the image with its mean grey level by a random factor.

    The result is ``mean + factor * (image - mean)`` where ``mean`` is the average luma of the
    image, clipped to ``[0, 255]``.

    Args:
        min_value: smallest factor, at least 0 (0 gives a flat grey image, below 1 lowers contrast).
        max_value: largest factor, at least ``min_value`` (above 1 raises contrast).
    """

    def __init__(self, min_value=0.75, max_value=1.25):
        self.min_value, self.max_value = _check_range(min_value, max_value, lowest=0)

    def __call__(self, image, rng=None, **kwargs):
        """Returns the sample with the contrast-adjusted RGB image, in the input dtype."""
        image = np.asarray(image)
        _require_rgb(image, self)
        factor = _generator(rng).uniform(self.min_value, self.max_value)
        values = image.astype(np.float32)
        mean = np.float32(_grayscale(values).mean())
        return dict(kwargs, image=_restore_dtype(_blend(values, mean, factor), image.dtype))


def shift_hue(image, degrees):
    """Rotates the hue of an RGB image by ``degrees``, keeping HSV saturation and value.

    Vectorized RGB → HSV → RGB; matches ``tf.image.adjust_hue(image, degrees / 360)``.
    Positive degrees turn red towards yellow and green.

    Args:
        image: ``(..., 3)`` float array with values in ``[0, 255]``.
        degrees: the hue shift; any real number (360 is a full turn).

    Returns:
        The shifted image as ``float32``.
    """
    image = np.asarray(image, dtype=np.float32)
    red, green, blue = image[..., 0], image[..., 1], image[..., 2]
    value = np.maximum(np.maximum(red, green), blue)
    chroma = value - np.minimum(np.minimum(red, green), blue)
    safe_chroma = np.where(chroma > 0, chroma, np.float32(1))
    sector = np.where(value == red, (green - blue) / safe_chroma,
                      np.where(value == green, (blue - red) / safe_chroma + 2, (red - green) / safe_chroma + 4))
    hue = np.mod(sector + np.float32(np.mod(degrees, 360) / 60), 6, dtype=np.float32)
    channels = [_hsv_channel(hue, chroma, value, n) for n in (5, 3, 1)]
    return np.stack(channels, axis=-1)


def _hsv_channel(hue, chroma, value, n):
    """One RGB channel from hue in sectors ``[0, 6)``: ``value - chroma * clip(min(k, 4 - k), 0, 1)``."""
    k = hue + np.float32(n)
    k = np.where(k >= 6, k - np.float32(6), k)
    return value - chroma * np.clip(np.minimum(k, 4 - k), 0, 1)


class Hue(Processor):
    """Shifts the hue by a random number of degrees (see :func:`shift_hue`), then clips.

    Args:
        min_value: smallest shift in degrees (negative turns red towards magenta and blue).
        max_value: largest shift in degrees, at least ``min_value`` (positive turns red towards
            yellow and green).
    """

    def __init__(self, min_value=-10, max_value=10):
        self.min_value, self.max_value = _check_range(min_value, max_value)

    def __call__(self, image, rng=None, **kwargs):
        """Returns the sample with the hue-shifted RGB image, in the input dtype."""
        image = np.asarray(image)
        _require_rgb(image, self)
        degrees = _generator(rng).uniform(self.min_value, self.max_value)
        return dict(kwargs, image=_restore_dtype(shift_hue(image, degrees), image.dtype))


def gaussian_kernel(sigma):
    """A normalized 1-D Gaussian kernel reaching ``3 * sigma`` on each side.

    Args:
        sigma: standard deviation in pixels, positive.

    Returns:
        ``float32`` weights of odd length that sum to 1.
    """
    radius = max(1, int(np.ceil(3 * sigma)))
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    weights = np.exp(-0.5 * (offsets / sigma) ** 2)
    return (weights / weights.sum()).astype(np.float32)


def _convolve_axis(image, kernel, axis):
    """Convolves along one axis with a symmetric kernel, mirroring the edges (loop over taps only)."""
    radius = len(kernel) // 2
    widths = [(0, 0)] * image.ndim
    widths[axis] = (radius, radius)
    padded = np.pad(image, widths, mode="symmetric")
    length = image.shape[axis]
    result = np.zeros_like(image)
    for offset, weight in enumerate(kernel):
        window = [slice(None)] * image.ndim
        window[axis] = slice(offset, offset + length)
        result += weight * padded[tuple(window)]
    return result


def gaussian_blur(image, sigma):
    """Blurs an image with a separable Gaussian kernel over height and width.

    Args:
        image: ``(height, width, ...)`` array.
        sigma: standard deviation in pixels; 0 or less returns the image unchanged.

    Returns:
        The blurred image as ``float32`` (or ``image`` itself when ``sigma <= 0``).
    """
    if sigma <= 0:
        return image
    kernel = gaussian_kernel(sigma)
    values = np.asarray(image, dtype=np.float32)
    return _convolve_axis(_convolve_axis(values, kernel, 0), kernel, 1)


class Blur(Processor):
    """Gaussian blur with a random standard deviation.

    Args:
        value: ``(min_sigma, max_sigma)`` in pixels, ``0 <= min_sigma <= max_sigma``; sigma 0 leaves
            the image unchanged.
    """

    def __init__(self, value=(0, 1)):
        if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
            raise ValueError(f"Blur: value must be a (min_sigma, max_sigma) pair, got {value!r}")
        self.value = _check_range(value[0], value[1], lowest=0)

    def __call__(self, image, rng=None, **kwargs):
        """Returns the sample with the blurred image, in the input dtype."""
        image = np.asarray(image)
        sigma = _generator(rng).uniform(*self.value)
        if sigma <= 0:
            return dict(kwargs, image=image)
        return dict(kwargs, image=_restore_dtype(gaussian_blur(image, sigma), image.dtype))
