"""What the user sees of an optimised image, and what that picture itself activates.

The seed's pixel method lets the image drift far outside [-1, 1], so its deprocessing (centre,
std 0.15, crop) is what makes it visible. A spectral parameterisation ends in a sigmoid, so its
image is always in range: showing it through the seed's deprocessing would stretch its contrast
and recentre its colours, and the picture would no longer be what was optimised. Such images are
shown as they are.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from featviz_engine.images import crop_for, deprocess
from featviz_engine.parameterizations import ParameterizationName


def in_range(image: np.ndarray) -> np.ndarray:
    """An image already in [-1, 1], shown as it is: mapped linearly to [0, 1]."""
    picture: np.ndarray = np.clip((image.astype(np.float32) + 1.0) / 2.0, 0.0, 1.0)
    return picture


DISPLAYS: dict[ParameterizationName, Callable[[np.ndarray], np.ndarray]] = {
    "pixel": deprocess,
    "fourier": in_range,
    "magnitude_constrained": in_range,
}
"""How each parameterisation's ``(H, W, 3)`` image in [-1, 1] space becomes a picture in [0, 1]."""


def hidden_share(parameterization: ParameterizationName, image_size: int) -> float:
    """The share of an optimised image, on each side, that its picture leaves out."""
    return crop_for(image_size) / image_size if DISPLAYS[parameterization] is deprocess else 0.0


def picture(image: np.ndarray, parameterization: ParameterizationName) -> np.ndarray:
    """The picture shown for an optimised image: ``(h, w, 3)`` float in [0, 1].

    Every PNG the engine makes (snapshots, sheets, GIFs) is ``to_uint8`` of this.
    """
    return DISPLAYS[parameterization](image)


def as_model_images(rgb: np.ndarray, image_size: int) -> np.ndarray:
    """Displayed 8-bit pictures back in the optimiser's [-1, 1] space, at the optimised size.

    A picture cropped for display (the seed's deprocessing) is centred on a mid-grey canvas, so
    the network sees the displayed pixels where they were optimised: the activation map has the
    same size, border and positions as the optimised image's, which a ``neuron`` objective's
    position and a fixed-size network need.

    Parameters
    ----------
    rgb
        ``(B, h, w, 3)`` uint8, ``h`` and ``w`` at most ``image_size``.
    """
    images = rgb.astype(np.float32) / np.float32(127.5) - np.float32(1.0)
    batch, height, width, _ = images.shape
    top, left = (image_size - height) // 2, (image_size - width) // 2
    canvas = np.zeros((batch, image_size, image_size, 3), np.float32)
    canvas[:, top : top + height, left : left + width] = images
    return canvas


ImageActivation = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]
"""The primary objective of ``(B, H, W, 3)`` images in [-1, 1] space for ``(B,)`` targets."""


def displayed_activations(
    activation_of_images: ImageActivation, rgb: np.ndarray, targets: tf.Tensor, image_size: int
) -> np.ndarray:
    """The objective reported as ``activation``, of the displayed pictures themselves.

    One forward pass of the batch; ``activation_of_images`` is the program's
    ``image_activation`` (no transforms, as for ``activation``).
    """
    images = tf.constant(as_model_images(rgb, image_size))
    values: np.ndarray = activation_of_images(images, targets).numpy()
    return values
