"""Image-space regularisers applied between steps (TV denoising lives in ``tv``)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def _gaussian_kernel(sigma: float) -> np.ndarray:
    radius = max(1, round(3 * sigma))
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    weights = np.exp(-(offsets**2) / (2 * sigma**2))
    kernel: np.ndarray = (weights / weights.sum()).astype(np.float32)
    return kernel


def gaussian_blur(images: tf.Tensor, sigma: float) -> tf.Tensor:
    """Separable Gaussian blur of each colour channel, edges reflected."""
    kernel = _gaussian_kernel(sigma)
    radius = len(kernel) // 2
    channels = images.shape[-1]
    horizontal = tf.constant(np.tile(kernel.reshape(1, -1, 1, 1), (1, 1, channels, 1)))
    vertical = tf.constant(np.tile(kernel.reshape(-1, 1, 1, 1), (1, 1, channels, 1)))
    padded = tf.pad(images, [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="REFLECT")
    blurred = tf.nn.depthwise_conv2d(padded, horizontal, [1, 1, 1, 1], "VALID")
    return tf.nn.depthwise_conv2d(blurred, vertical, [1, 1, 1, 1], "VALID")
