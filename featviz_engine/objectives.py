"""Objectives: what the gradient ascent maximises, one value per image of a batch."""

from __future__ import annotations

import tensorflow as tf

BORDER = 2
"""Activation-map pixels excluded on each side, as in the seed, to avoid border artefacts."""


def channel_mean(activations: tf.Tensor, channels: tf.Tensor) -> tf.Tensor:
    """The seed's objective: mean activation of one channel per image, border excluded.

    Parameters
    ----------
    activations
        ``(B, h, w, C)`` feature maps.
    channels
        ``(B,)`` int32: the channel image ``i`` maximises.

    Returns
    -------
    tf.Tensor
        ``(B,)`` mean activation of each image's channel over the map without its
        ``BORDER``-pixel frame.
    """
    interior = activations[:, BORDER:-BORDER, BORDER:-BORDER, :]
    selected = tf.gather(interior, channels, axis=3, batch_dims=1)
    return tf.reduce_mean(selected, axis=[1, 2])


def min_map_size() -> int:
    """The smallest activation map (height or width) that keeps an interior pixel."""
    return 2 * BORDER + 1
