"""Augmentors: random NumPy transformations applied to training samples only.

Each augmentor is a :class:`~lmnet.data_processor.Processor`. It takes the sample as keyword
arguments (``image`` plus any extra keys) and a ``rng`` (a :class:`numpy.random.Generator`; a fresh
unseeded one when ``None``) and returns the sample as a dict. All randomness comes from ``rng``,
so the same seed gives the same output.

Images are ``(height, width, channels)`` arrays with values in ``[0, 255]``. Colour augmentors
return the input dtype: ``uint8`` stays ``uint8`` (rounded and clipped), anything else comes out
as ``float32`` clipped to ``[0, 255]``.

Ground-truth boxes (``gt_boxes``, ``[max_boxes, 5]`` rows ``(x, y, w, h, class_id)`` in pixels,
padding rows with ``class_id == -1``; see :mod:`lmnet.boxes`, which does all the box math) follow
every geometric augmentor: the flips mirror them, :class:`Pad` shifts them, :class:`Crop` and
:class:`SSDRandomCrop` keep the boxes whose centre lies strictly inside the crop window (clipped to
it, in its coordinates) and turn the others into padding rows after the kept ones. Geometric
augmentors return the boxes as ``float32`` with the same number of rows. Colour augmentors pass
them through untouched (the very same object).
"""
import math

import numpy as np

from lmnet.boxes import (GT_BOXES_KEY, as_gt_boxes, centers_inside_xywh, crop_gt_boxes, flip_left_right_xywh,
                         flip_top_bottom_xywh, map_valid_boxes, shift_xywh, valid_rows)
from lmnet.data_processor import Processor
from lmnet.pre_processor import ResizeWithGtBoxes, check_size, with_gt_boxes

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


def _flip_sample(image, kwargs, axis):
    """Flips the image (axis 1 = left-right, 0 = top-bottom) and any boxes with it."""
    image = np.asarray(image)
    flipped = np.ascontiguousarray(np.flip(image, axis=axis))
    if axis == 1:
        return with_gt_boxes(kwargs, flipped, map_valid_boxes, flip_left_right_xywh, image.shape[1])
    return with_gt_boxes(kwargs, flipped, map_valid_boxes, flip_top_bottom_xywh, image.shape[0])


class _Flip(Processor):
    """A mirror along ``axis`` (1: left-right, 0: top-bottom) applied with a probability."""

    axis = None

    def __init__(self, probability=0.5):
        self.probability = _check_probability(probability)

    def __call__(self, image, rng=None, **kwargs):
        """Returns the sample, flipped with probability ``probability``."""
        if _generator(rng).random() >= self.probability:
            return with_gt_boxes(kwargs, image)
        return _flip_sample(image, kwargs, axis=self.axis)


class FlipLeftRight(_Flip):
    """Mirrors the image horizontally (and its ``gt_boxes``) with the given probability.

    Args:
        probability: chance of flipping, in ``[0, 1]``; 0 never flips, 1 always does.
    """

    axis = 1


class FlipTopBottom(_Flip):
    """Mirrors the image vertically (and its ``gt_boxes``) with the given probability.

    Args:
        probability: chance of flipping, in ``[0, 1]``; 0 never flips, 1 always does.
    """

    axis = 0


def _crop_sample(image, kwargs, window):
    """Cuts ``window`` ``(x, y, w, h)`` (integers) out of the image and crops the boxes with it."""
    left, top, width, height = window
    cropped = np.ascontiguousarray(image[top:top + height, left:left + width])
    return with_gt_boxes(kwargs, cropped, crop_gt_boxes, window)


class Crop(Processor):
    """Cuts a window of ``size`` at a uniformly random position, optionally resizing first.

    Ground-truth boxes are resized with the image, then cropped like :func:`lmnet.boxes.crop_gt_boxes`
    does: a box is kept when its centre is strictly inside the window (clipped to the window and
    moved into its coordinates), dropped otherwise. The crop may keep no box at all; use
    :class:`SSDRandomCrop` for a crop that keeps at least one.

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
        """Returns the sample with the cropped image and its boxes.

        Raises:
            ValueError: the image is smaller than the crop size.
        """
        if self.resize is not None:
            kwargs = ResizeWithGtBoxes(self.resize)(image, **kwargs)
            image = kwargs.pop("image")
        image = np.asarray(image)
        (height, width), (image_height, image_width) = self.size, image.shape[:2]
        if image_height < height or image_width < width:
            raise ValueError(f"Crop: image of size ({image_height}, {image_width}) is smaller than the crop size "
                             f"({height}, {width})")
        rng = _generator(rng)
        top = int(rng.integers(0, image_height - height + 1))
        left = int(rng.integers(0, image_width - width + 1))
        return _crop_sample(image, kwargs, (left, top, width, height))


def _min_side(ratio, side):
    """The smallest crop side: ``ratio * side`` rounded up (ignoring float noise), at least 1."""
    return max(1, math.ceil(round(ratio * side, 9)))


class SSDRandomCrop(Processor):
    """SSD-style random crop that keeps at least one ground-truth box.

    Each trial draws a window ``(x, y, w, h)`` in whole pixels: its width uniformly between
    ``min_crop_ratio * image_width`` (rounded up) and the image width, its height independently
    likewise (so the aspect ratio is random too), and its position uniformly where it fits. The
    first trial whose window contains the centre of at least one box, strictly inside (a centre
    on the border counts as outside), is used: the image is cut to the window (the output has the
    window's size; follow with :class:`lmnet.pre_processor.ResizeWithGtBoxes`), the boxes whose
    centre is inside are clipped to it and moved into its coordinates, and the others become
    padding rows after them (see :func:`lmnet.boxes.crop_gt_boxes`). If no trial keeps a box, the
    sample is returned unchanged (boxes as ``float32``). A sample without boxes (no ``gt_boxes``,
    ``None`` or only padding rows) is cut to the first trial's window.

    All ``max_trials`` windows are drawn at once, so a call always consumes the same randomness;
    :meth:`choose_window` with an equally seeded ``rng`` tells which window a call uses.

    Args:
        min_crop_ratio: smallest crop side as a fraction of the image side, in ``(0, 1]``.
        max_trials: number of windows tried, a positive integer.

    Raises:
        ValueError: a parameter is out of range.
    """

    def __init__(self, min_crop_ratio=0.3, max_trials=50):
        if isinstance(min_crop_ratio, bool) or not isinstance(min_crop_ratio, (int, float, np.number)) \
                or not 0 < min_crop_ratio <= 1:
            raise ValueError(f"SSDRandomCrop: min_crop_ratio must be a number in (0, 1], got {min_crop_ratio!r}")
        if isinstance(max_trials, bool) or not isinstance(max_trials, (int, np.integer)) or max_trials < 1:
            raise ValueError(f"SSDRandomCrop: max_trials must be a positive integer, got {max_trials!r}")
        self.min_crop_ratio = float(min_crop_ratio)
        self.max_trials = int(max_trials)

    def candidate_windows(self, image_size, rng=None):
        """Draws the ``max_trials`` candidate windows for an image.

        Args:
            image_size: ``(height, width)`` of the image.
            rng: a :class:`numpy.random.Generator` (a fresh unseeded one when ``None``).

        Returns:
            ``int64 [max_trials, 4]`` windows ``(x, y, w, h)`` inside the image, in trial order.
        """
        height, width = image_size
        rng = _generator(rng)
        widths = rng.integers(_min_side(self.min_crop_ratio, width), width + 1, size=self.max_trials)
        heights = rng.integers(_min_side(self.min_crop_ratio, height), height + 1, size=self.max_trials)
        lefts = rng.integers(0, width - widths + 1)
        tops = rng.integers(0, height - heights + 1)
        return np.stack([lefts, tops, widths, heights], axis=1).astype(np.int64)

    def choose_window(self, image_size, gt_boxes, rng=None):
        """Picks the crop window a call with the same ``rng`` state uses.

        Args:
            image_size: ``(height, width)`` of the image.
            gt_boxes: the sample's ``[max_boxes, 5]`` ground truth, or ``None``.
            rng: a :class:`numpy.random.Generator` (a fresh unseeded one when ``None``).

        Returns:
            ``(x, y, w, h)`` as Python ints: the first candidate containing a box centre (the first
            candidate when there are no boxes), or ``None`` when no candidate keeps a box.
        """
        windows = self.candidate_windows(image_size, rng)
        chosen = 0
        if gt_boxes is not None:
            gt_boxes = as_gt_boxes(gt_boxes)
            boxes = gt_boxes[valid_rows(gt_boxes)][:, :4]
            if len(boxes):
                keeps_a_box = centers_inside_xywh(boxes[None, :, :], windows[:, None, :]).any(axis=1)
                if not keeps_a_box.any():
                    return None
                chosen = int(np.argmax(keeps_a_box))
        return tuple(int(v) for v in windows[chosen])

    def __call__(self, image, rng=None, **kwargs):
        """Returns the sample cut to the chosen window with its boxes, or unchanged (see the class)."""
        image = np.asarray(image)
        window = self.choose_window(image.shape[:2], kwargs.get(GT_BOXES_KEY), rng)
        if window is None:
            return with_gt_boxes(kwargs, image)
        return _crop_sample(image, kwargs, window)


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
        padded = np.pad(image, widths, mode="constant", constant_values=self.fill)
        return with_gt_boxes(kwargs, padded, map_valid_boxes, shift_xywh, horizontal, vertical)


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


class _RandomBlend(Processor):
    """Blends the RGB image with :meth:`blend_target` of it by a random factor in ``[min_value, max_value]``:
    ``target + factor * (image - target)``, clipped to ``[0, 255]``, in the input dtype."""

    def __init__(self, min_value=0.75, max_value=1.25):
        self.min_value, self.max_value = _check_range(min_value, max_value, lowest=0)

    def blend_target(self, values):
        """What the float32 image is blended with."""
        raise NotImplementedError

    def __call__(self, image, rng=None, **kwargs):
        """Returns the sample with the blended RGB image, in the input dtype."""
        image = np.asarray(image)
        _require_rgb(image, self)
        factor = _generator(rng).uniform(self.min_value, self.max_value)
        values = image.astype(np.float32)
        return dict(kwargs, image=_restore_dtype(_blend(values, self.blend_target(values), factor), image.dtype))


class Color(_RandomBlend):
    """Changes the saturation: blends the image with its grayscale version by a random factor.

    The result is ``gray + factor * (image - gray)``, clipped to ``[0, 255]``.

    Args:
        min_value: smallest factor, at least 0 (0 gives grayscale, below 1 desaturates).
        max_value: largest factor, at least ``min_value`` (above 1 saturates).
    """

    def blend_target(self, values):
        """The grayscale image."""
        return _grayscale(values)


class Contrast(_RandomBlend):
    """Changes the contrast: blends the image with its mean grey level by a random factor.

    The result is ``mean + factor * (image - mean)`` where ``mean`` is the average luma of the
    image, clipped to ``[0, 255]``.

    Args:
        min_value: smallest factor, at least 0 (0 gives a flat grey image, below 1 lowers contrast).
        max_value: largest factor, at least ``min_value`` (above 1 raises contrast).
    """

    def blend_target(self, values):
        """The image's mean grey level."""
        return np.float32(_grayscale(values).mean())


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
