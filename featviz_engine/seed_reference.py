"""The seed notebook's loop, kept as written there: the oracle for parity tests and benchmarks.

It differs from the engine on purpose: one image at a time, the filter index passed as a Python
int (so every new index retraces the step), and scikit-image's TV through numpy after each step.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from skimage.restoration import denoise_tv_chambolle


class SeedLoop:
    """``gradient_ascent_step`` and ``visualize_filter`` of the seed, on a given network."""

    def __init__(self, feature_extractor: keras.Model) -> None:
        self.feature_extractor = feature_extractor
        self.traces = 0
        self.gradient_ascent_step = tf.function(self._gradient_ascent_step)

    def compute_loss(self, input_image: tf.Tensor, filter_index: int) -> tf.Tensor:
        activation = self.feature_extractor(input_image)
        # We avoid border artifacts by only involving non-border pixels in the loss.
        filter_activation = activation[:, 2:-2, 2:-2, filter_index]
        return tf.reduce_mean(filter_activation)

    def _gradient_ascent_step(
        self, img: tf.Tensor, filter_index: int, learning_rate: float
    ) -> tuple[tf.Tensor, tf.Tensor]:
        self.traces += 1
        with tf.GradientTape() as tape:
            tape.watch(img)
            loss = self.compute_loss(img, filter_index)
        grads = tape.gradient(loss, img)
        grads = tf.math.l2_normalize(grads)
        img += learning_rate * grads
        return loss, img

    def denoise(self, img: tf.Tensor, weight: float) -> tf.Tensor:
        """The seed's round trip: to numpy, scikit-image's TV on the (1, H, W, 3) array, back."""
        return tf.convert_to_tensor(denoise_tv_chambolle(img.numpy(), weight=weight))

    def run(
        self,
        start: np.ndarray,
        filter_index: int,
        iterations: int,
        learning_rate: float = 2.0,
        tv_weight: float = 0.0005,
        tv_start: int = 50,
    ) -> np.ndarray:
        """``visualize_filter`` from a given (1, H, W, 3) start; returns the final image."""
        img = tf.convert_to_tensor(start)
        for iteration in range(iterations):
            _, img = self.gradient_ascent_step(img, filter_index, learning_rate)
            if tv_weight > 0 and iteration >= tv_start:
                img = self.denoise(img, tv_weight)
        result: np.ndarray = img.numpy()
        return result
