"""Reading image files into RGB ``uint8`` arrays, with clear errors and a size limit."""
import warnings

import numpy as np
from PIL import Image, ImageOps

from lmnet.errors import DatasetError

#: Largest number of pixels an image file may decode to (guards against decompression bombs).
MAX_IMAGE_PIXELS = 64 * 1024 * 1024


def load_image(path, max_pixels=MAX_IMAGE_PIXELS):
    """Reads an image file as RGB ``uint8`` of shape ``(height, width, 3)``.

    Grayscale, palette, RGBA (alpha dropped), CMYK and 16-bit images are converted to RGB;
    the EXIF orientation of JPEGs is applied.

    Args:
        path: the image file.
        max_pixels: refuse images with more pixels than this.

    Returns:
        ``np.ndarray`` of dtype ``uint8`` and shape ``(height, width, 3)``.

    Raises:
        DatasetError: the file is missing, unreadable, truncated or too large; the message names it.
    """
    try:
        with Image.open(path) as image:
            if image.width * image.height > max_pixels:
                raise DatasetError(f"{path}: image of {image.width}x{image.height} pixels is over the limit of "
                                   f"{max_pixels} pixels")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                image = ImageOps.exif_transpose(image)
            return _to_rgb_array(image)
    except DatasetError:
        raise
    except FileNotFoundError:
        raise DatasetError(f"{path}: image file not found") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise DatasetError(f"{path}: cannot read image ({error})") from None


def _to_rgb_array(image):
    """Converts any PIL mode to an RGB uint8 array (16-bit and float images are rescaled)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") else max(float(array.max()), 1.0)
        gray = np.clip(array / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
    return np.asarray(image.convert("RGB"), dtype=np.uint8)
