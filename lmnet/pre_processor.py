"""Pre-processors: deterministic NumPy steps applied to every sample (training and inference).

Each pre-processor is a :class:`~lmnet.data_processor.Processor`: it takes the sample as keyword
arguments (``image`` plus any extra keys, which pass through unchanged) and returns the sample as
a dict. Images are ``(height, width, channels)`` NumPy arrays with pixel values in ``[0, 255]``;
sizes are always ``(height, width)``.

Ground-truth boxes (``gt_boxes``, see :mod:`lmnet.boxes`) are only moved by
:class:`ResizeWithGtBoxes`; :class:`Resize` refuses them rather than leave them wrong, and the other
pre-processors do not change the geometry and pass them through.
"""
import numpy as np
from PIL import Image

from lmnet.boxes import GT_BOXES_KEY, as_gt_boxes, resize_gt_boxes
from lmnet.data_processor import Processor


def check_size(size, name="size"):
    """Validates an image size and returns it as a tuple of ints.

    Args:
        size: ``(height, width)``, two positive integers (a list or tuple).
        name: the parameter's name, used in the error message.

    Returns:
        ``(height, width)`` as a tuple of Python ints.

    Raises:
        ValueError: ``size`` is not a pair of positive integers.
    """
    if isinstance(size, (str, bytes)) or not hasattr(size, "__len__") or len(size) != 2:
        raise ValueError(f"{name} must be (height, width), got {size!r}")
    if not all(_is_int(v) and v > 0 for v in size):
        raise ValueError(f"{name} must be two positive integers (height, width), got {size!r}")
    return tuple(int(v) for v in size)


def _is_int(value):
    """True for Python and NumPy integers, False for bools and everything else."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def with_gt_boxes(sample, image, transform=None, *args):
    """The sample with a new image and, if it has ``gt_boxes``, those boxes as ``float32``.

    Args:
        sample: the sample's keyword arguments (without ``image``); not modified.
        image: the new image.
        transform: ``None`` to keep the boxes, or a function of the ``float32`` boxes (and
            ``args``) returning the new boxes, e.g. :func:`lmnet.boxes.crop_gt_boxes`.
        *args: passed to ``transform`` after the boxes.

    Returns:
        A new dict; ``gt_boxes`` absent or ``None`` stays so.

    Raises:
        ValueError: ``gt_boxes`` is not shaped ``[max_boxes, 5]``.
    """
    result = dict(sample, image=image)
    if sample.get(GT_BOXES_KEY) is not None:
        gt_boxes = as_gt_boxes(sample[GT_BOXES_KEY])
        result[GT_BOXES_KEY] = gt_boxes if transform is None else transform(gt_boxes, *args)
    return result


#: Resampling filters by the names upstream Blueoil's processors use (Pillow's filters).
RESAMPLE_FILTERS = {
    "NEAREST": Image.Resampling.NEAREST,
    "BOX": Image.Resampling.BOX,
    "BILINEAR": Image.Resampling.BILINEAR,
    "HAMMING": Image.Resampling.HAMMING,
    "BICUBIC": Image.Resampling.BICUBIC,
    "LANCZOS": Image.Resampling.LANCZOS,
}
#: The filter of :class:`Resize` when a config names none (and of the runtime's fallback resize).
DEFAULT_RESAMPLE = "BILINEAR"


def check_resample(resample):
    """Returns ``resample`` if it names a filter of :data:`RESAMPLE_FILTERS`.

    Raises:
        ValueError: unknown name.
    """
    if not isinstance(resample, str) or resample not in RESAMPLE_FILTERS:
        raise ValueError(f"resample must be one of {', '.join(RESAMPLE_FILTERS)}, got {resample!r}")
    return resample


def resize_image(image, size, resample=DEFAULT_RESAMPLE):
    """Resizes an image to exactly ``size`` with Pillow.

    Args:
        image: ``(height, width, channels)`` or ``(height, width)`` array, values in ``[0, 255]``.
        size: ``(height, width)`` of the result.
        resample: a filter name of :data:`RESAMPLE_FILTERS` (``"NEAREST"`` is what Blueoil's C++
            runtime does on the device).

    Returns:
        The resized image: ``uint8`` if ``image`` is ``uint8``, else ``float32``. The input itself
        (not a copy) when it already has that size.
    """
    height, width = size
    if image.shape[:2] == (height, width):
        return image
    method = RESAMPLE_FILTERS[check_resample(resample)]
    if image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3:
        return np.asarray(Image.fromarray(image).resize((width, height), method))
    if image.ndim == 2:
        return _resize_channel(image, size, method)
    return np.stack([_resize_channel(image[..., c], size, method) for c in range(image.shape[2])], axis=-1)


def _resize_channel(channel, size, method):
    """Resizes one 2-D channel: Pillow mode ``L`` for ``uint8``, mode ``F`` (float32) otherwise."""
    height, width = size
    if channel.dtype != np.uint8:
        channel = channel.astype(np.float32, copy=False)
    resized = Image.fromarray(np.ascontiguousarray(channel)).resize((width, height), method)
    return np.asarray(resized)


class Resize(Processor):
    """Resizes the image to exactly ``size``, ignoring the aspect ratio.

    ``uint8`` images stay ``uint8``; any other dtype comes out as ``float32``. An image that already
    has the target size is returned as is (no copy). Training, evaluation, export parity and every
    runtime resize with the same ``resample`` filter; Blueoil's C++ runtime always resizes
    nearest-neighbour, so a network meant for that runtime is best trained with ``"NEAREST"``
    (docs/export.rst).

    Args:
        size: ``(height, width)`` of the result, positive integers; ``None`` (in a config) follows
            ``IMAGE_SIZE``.
        resample: the filter, by upstream Blueoil's names: ``"NEAREST"``, ``"BOX"``, ``"BILINEAR"``
            (the default), ``"HAMMING"``, ``"BICUBIC"`` or ``"LANCZOS"``.

    Raises:
        ValueError: ``size`` is not two positive integers, or ``resample`` names no filter.
    """

    input_size_param = "size"

    def __init__(self, size=None, resample=DEFAULT_RESAMPLE):
        self.size = None if size is None else check_size(size)
        self.resample = check_resample(resample)

    def __call__(self, image, rng=None, **kwargs):
        """Returns the sample with the resized image.

        Raises:
            ValueError: the sample has ``gt_boxes`` (use :class:`ResizeWithGtBoxes`).
        """
        if kwargs.get(GT_BOXES_KEY) is not None:
            size = "" if self.size is None else list(self.size)
            raise ValueError(f"{type(self).__name__} does not move gt_boxes; use ResizeWithGtBoxes({size}) for object "
                             "detection")
        return dict(kwargs, image=resize_image(np.asarray(image), self._size(), self.resample))

    def _size(self):
        """The target size, which must be set by now."""
        if self.size is None:
            raise ValueError(f"{type(self).__name__}: size is unset; a config fills it from IMAGE_SIZE")
        return self.size


class ResizeWithGtBoxes(Resize):
    """Resizes the image like :class:`Resize` and scales its ``gt_boxes`` with it.

    Box ``(x, y, w, h)`` becomes ``(x * sx, y * sy, w * sx, h * sy)`` with ``sx = new_width /
    old_width`` and ``sy = new_height / old_height``, clipped to the new image (which only absorbs
    float rounding for boxes inside the image); padding rows stay as they are and the boxes come
    out as ``float32``. Samples without ``gt_boxes`` (inference) are simply resized.

    Args:
        size: ``(height, width)`` of the result, positive integers; ``None`` follows ``IMAGE_SIZE``.
        resample: the filter (see :class:`Resize`).

    Raises:
        ValueError: ``size`` is not two positive integers, or ``resample`` names no filter.
    """

    def __call__(self, image, rng=None, **kwargs):
        """Returns the sample with the resized image and scaled ``gt_boxes``."""
        image, size = np.asarray(image), self._size()
        return with_gt_boxes(kwargs, resize_image(image, size, self.resample), resize_gt_boxes, image.shape[:2], size)


class DivideBy255(Processor):
    """Scales pixel values from ``[0, 255]`` to ``[0, 1]`` as ``float32``."""

    def __call__(self, image, rng=None, **kwargs):
        """Returns the sample with ``image / 255`` in ``float32``."""
        return dict(kwargs, image=np.asarray(image, dtype=np.float32) / np.float32(255))


def per_image_standardization(image):
    """Standardizes an image to zero mean and unit variance like ``tf.image.per_image_standardization``.

    Computes ``(x - mean) / max(std, 1 / sqrt(N))`` over all ``N`` values of the image, so that a
    uniform image becomes all zeros instead of dividing by zero.

    Args:
        image: an array of any shape and numeric dtype.

    Returns:
        The standardized image as ``float32``.
    """
    values = np.asarray(image, dtype=np.float32)
    mean = values.mean(dtype=np.float64)
    std = values.std(dtype=np.float64)
    adjusted_std = max(std, 1.0 / np.sqrt(values.size))
    return ((values - mean) / adjusted_std).astype(np.float32)


class PerImageStandardization(Processor):
    """Standardizes each image to zero mean and unit variance (see :func:`per_image_standardization`)."""

    def __call__(self, image, rng=None, **kwargs):
        """Returns the sample with the standardized ``float32`` image."""
        return dict(kwargs, image=per_image_standardization(image))
