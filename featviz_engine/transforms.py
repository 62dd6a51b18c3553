"""Transformation robustness (Distill 2017, Lucid's ``standard_transforms``).

Before each forward pass the image is padded, jittered, scaled and rotated at random, so that the
optimiser cannot rely on pixel-exact high-frequency patterns. The randomness is stateless, drawn
from (seed, iteration): reproducible, and the same for every image of a batch, so an image does
not depend on the batch it was packed into.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import tensorflow as tf

TransformsName = Literal["none", "standard"]
TRANSFORMS: tuple[TransformsName, ...] = ("none", "standard")


@dataclass(frozen=True)
class TransformSettings:
    """Each knob off at 0.

    Attributes
    ----------
    pad
        Grey pixels added on each side.
    jitter
        Largest random shift, in pixels, before scaling and rotating.
    scale
        Largest relative zoom in or out (0.1: between 0.9x and 1.1x).
    rotate
        Largest rotation in degrees, either way.
    final_jitter
        Largest random shift after scaling and rotating.
    """

    pad: int = 0
    jitter: int = 0
    scale: float = 0.0
    rotate: float = 0.0
    final_jitter: int = 0

    @property
    def active(self) -> bool:
        return any((self.pad, self.jitter, self.scale, self.rotate, self.final_jitter))

    def output_size(self, image_size: int) -> int:
        return image_size + 2 * self.pad - self.jitter - self.final_jitter


TRANSFORM_PRESETS: dict[TransformsName, TransformSettings] = {
    "none": TransformSettings(),
    "standard": TransformSettings(pad=12, jitter=8, scale=0.1, rotate=10.0, final_jitter=4),
}


def _jitter(images: tf.Tensor, amount: int, seed: tf.Tensor) -> tf.Tensor:
    if amount == 0:
        return images
    offsets = tf.random.stateless_uniform([2], seed, 0, amount + 1, dtype=tf.int32)
    shape = tf.shape(images)
    return tf.slice(
        images, [0, offsets[0], offsets[1], 0], [-1, shape[1] - amount, shape[2] - amount, -1]
    )


def _scale_and_rotate(
    images: tf.Tensor, scale: float, degrees: float, seed: tf.Tensor
) -> tf.Tensor:
    if scale == 0 and degrees == 0:
        return images
    draws = tf.random.stateless_uniform([2], seed, -1.0, 1.0)
    zoom = 1.0 + scale * draws[0]
    angle = degrees * math.pi / 180.0 * draws[1]
    shape = tf.shape(images)
    height, width = tf.cast(shape[1], tf.float32), tf.cast(shape[2], tf.float32)
    centre_x, centre_y = (width - 1) / 2, (height - 1) / 2
    # The transform maps each output pixel to the input pixel it samples.
    a0, a1 = tf.cos(angle) / zoom, tf.sin(angle) / zoom
    b0, b1 = -tf.sin(angle) / zoom, tf.cos(angle) / zoom
    a2 = centre_x - a0 * centre_x - a1 * centre_y
    b2 = centre_y - b0 * centre_x - b1 * centre_y
    matrix = tf.stack([a0, a1, a2, b0, b1, b2, 0.0, 0.0])[tf.newaxis]
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=tf.tile(matrix, [shape[0], 1]),
        output_shape=shape[1:3],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="REFLECT",
    )


def apply(images: tf.Tensor, settings: TransformSettings, seed: tf.Tensor) -> tf.Tensor:
    """Transform a batch; ``seed`` is a ``(2,)`` int32 stateless seed (spec seed, iteration)."""
    if settings.pad:
        pad = settings.pad
        images = tf.pad(images, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
    seeds = tf.random.experimental.stateless_split(seed, 3)
    images = _jitter(images, settings.jitter, seeds[0])
    images = _scale_and_rotate(images, settings.scale, settings.rotate, seeds[1])
    return _jitter(images, settings.final_jitter, seeds[2])
