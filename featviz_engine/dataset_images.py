"""Dataset images: decoded with Pillow under a pixel cap, and made the square the network sees.

Imports neither TensorFlow nor Keras, so that the worker's resource-limited child process that
checks an uploaded dataset (``worker/dataset_check.py``) can use it.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image

FORMATS = ("PNG", "JPEG")


class ImageRejectedError(Exception):
    """An image that will not be used; the message is the reason users see."""


def decode(data: bytes, max_pixels: int) -> Image.Image:
    """An image's pixels as RGB, refusing anything but a PNG or JPEG of at most ``max_pixels``.

    The size is read from the header before any pixel is decoded, so a decompression bomb is
    refused unread; Pillow's own bomb check is set to the same cap.

    Raises
    ------
    ImageRejectedError
        With the reason.
    """
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=FORMATS) as picture:
                width, height = picture.size
                if width * height > max_pixels:
                    raise ImageRejectedError(
                        f"{width}x{height} px is more than the {max_pixels} pixels allowed"
                    )
                picture.load()
                return picture.convert("RGB")
    except (ImageRejectedError, MemoryError):
        raise  # a MemoryError ends the checking process, which the worker reports as such
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageRejectedError(f"more than the {max_pixels} pixels allowed: {error}") from error
    except Exception as error:  # Pillow raises OSError, SyntaxError, ValueError... on bad files
        raise ImageRejectedError(f"not a whole PNG or JPEG: {error}") from error


def square(picture: Image.Image, size: int) -> np.ndarray:
    """The centred square of the image, resized to ``size``: ``(size, size, 3)`` uint8."""
    width, height = picture.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    cropped = picture.crop((left, top, left + side, top + side))
    return np.asarray(cropped.resize((size, size), Image.Resampling.BILINEAR), dtype=np.uint8)
