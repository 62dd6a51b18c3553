"""Dataset images: decoded with Pillow under a pixel cap, and made the square the network sees.

Imports neither TensorFlow nor Keras, so that the limited child process that checks an uploaded
dataset (``worker/dataset_check.py``, in ``featviz.sandbox``) starts quickly and small.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image

from featviz.limits import Limit, RefusedError, exceeded

FORMATS = ("PNG", "JPEG")


class ImageRejectedError(RefusedError):
    """An image that will not be used; the message is the reason users see."""


def decode(data: bytes, max_pixels: Limit) -> Image.Image:
    """An image's pixels as RGB, refusing anything but a PNG or JPEG of at most ``max_pixels``.

    The size is read from the header before any pixel is decoded, so a decompression bomb is
    refused unread, with its pixel count. Pillow's own bomb check is left as Pillow sets it (a
    process-wide setting: other code in the worker decodes images too); the pixel cap's setting
    is bounded below it (8192 x 8192), so that check only ever backs this one up.

    Raises
    ------
    ImageRejectedError
        With the reason.
    LimitExceededError
        When it has more pixels than ``max_pixels``, naming its setting.
    """
    try:
        with warnings.catch_warnings():
            # Pillow warns past its own cap, above ours: this function refuses such images.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=FORMATS) as picture:
                width, height = picture.size
                if width * height > max_pixels.value:
                    raise exceeded(max_pixels, "pixels", width * height, f"{width}x{height} px")
                picture.load()
                return picture.convert("RGB")
    except (RefusedError, MemoryError):
        raise  # the sandbox reports a MemoryError as the memory limit
    except Image.DecompressionBombError as error:
        detail = f"refused from its header by Pillow: {error}"
        raise exceeded(max_pixels, "pixels", detail=detail) from error
    except Exception as error:  # Pillow raises OSError, SyntaxError, ValueError... on bad files
        raise ImageRejectedError(f"not a whole PNG or JPEG: {error}") from error


def square(picture: Image.Image, size: int) -> np.ndarray:
    """The centred square of the image, resized to ``size``: ``(size, size, 3)`` uint8."""
    width, height = picture.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    cropped = picture.crop((left, top, left + side, top + side))
    return np.asarray(cropped.resize((size, size), Image.Resampling.BILINEAR), dtype=np.uint8)
