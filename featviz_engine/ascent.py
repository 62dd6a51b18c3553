"""The ascent loop: normalised-gradient steps on a batch of images, with TV denoising.

Each image of a batch has its own channel, learning rate and TV weight, and its gradient is
L2-normalised on its own, so a batch of one is exactly the seed's step and a batch of many gives
each image what it would get alone. The traced functions live in an ``AscentProgram``, built once
per (model, weights, layer) and cached; tensors (never Python numbers) carry channels and rates,
so a new filter index or learning rate never retraces.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from featviz_engine.errors import Interrupted
from featviz_engine.models import Weights, feature_extractor, model_spec
from featviz_engine.objectives import channel_mean
from featviz_engine.tv import TVMode, denoise_tv_chambolle

ProgressCallback = Callable[[int, np.ndarray], None]
"""Called after every iteration with (iteration, per-image objective before the step)."""
SnapshotCallback = Callable[[int, np.ndarray, np.ndarray], None]
"""Called at snapshot iterations with (iteration, (B, H, W, 3) images, per-image activation)."""
StopHook = Callable[[], bool]
"""Checked every iteration; returning True cancels the optimisation."""


class AscentProgram:
    """The traced step, activation and denoise functions for one model layer.

    Attributes
    ----------
    step_traces
        How many times the ascent step has been traced (once per batch shape and image size).
    """

    def __init__(self, model: str, weights: Weights, layer: str) -> None:
        self.extractor = feature_extractor(model, weights, layer)
        self.to_model_input = model_spec(model).to_model_input
        self.step_traces = 0
        self.step = tf.function(self._step)
        self.activation = tf.function(self._activation)
        # XLA fuses the many small elementwise ops of each Chambolle iteration.
        self.denoise = tf.function(denoise_tv_chambolle, jit_compile=True)

    def _objective(self, images: tf.Tensor, channels: tf.Tensor) -> tf.Tensor:
        activations = self.extractor(self.to_model_input(images), training=False)
        return channel_mean(activations, channels)

    def _step(
        self, images: tf.Tensor, channels: tf.Tensor, learning_rates: tf.Tensor
    ) -> tuple[tf.Tensor, tf.Tensor]:
        self.step_traces += 1
        with tf.GradientTape() as tape:
            tape.watch(images)
            objective = self._objective(images, channels)
            # Images do not interact in inference mode, so the gradient of the sum is per image.
            total = tf.reduce_sum(objective)
        gradients = tape.gradient(total, images)
        gradients = tf.math.l2_normalize(gradients, axis=[1, 2, 3])
        return objective, images + tf.reshape(learning_rates, [-1, 1, 1, 1]) * gradients

    def _activation(self, images: tf.Tensor, channels: tf.Tensor) -> tf.Tensor:
        return self._objective(images, channels)

    def map_size(self, image_size: int) -> tuple[int, int]:
        """Height and width of the layer's activation map for a square image."""
        shape = self.extractor.compute_output_shape((1, image_size, image_size, 3))
        return int(shape[1]), int(shape[2])


_programs: dict[tuple[str, str, str], AscentProgram] = {}
_programs_lock = threading.Lock()


def ascent_program(model: str, weights: Weights, layer: str) -> AscentProgram:
    """The process-wide program for a model layer."""
    key = (model, weights, layer)
    with _programs_lock:
        if key not in _programs:
            _programs[key] = AscentProgram(model, weights, layer)
        return _programs[key]


def start_images(seed: int, image_size: int, batch: int) -> np.ndarray:
    """The seed's start: grey with uniform noise in [-0.125, 0.125], from a seeded generator.

    Every image of a batch starts from the same noise, so an image does not depend on the batch
    it was packed into.
    """
    noise = np.random.default_rng(seed).random((image_size, image_size, 3), dtype=np.float32)
    start = (noise - np.float32(0.5)) * np.float32(0.25)
    return np.repeat(start[np.newaxis], batch, axis=0)


@dataclass(frozen=True)
class AscentSettings:
    """What one optimisation run does, per image of the batch where it is a sequence."""

    channels: tuple[int, ...]
    learning_rates: tuple[float, ...]
    tv_weights: tuple[float, ...]
    iterations: int
    snapshots: Collection[int]
    tv_start: int = 50
    tv_mode: TVMode = "seed"
    time_budget_s: float | None = None


def optimize(
    program: AscentProgram,
    start: np.ndarray,
    settings: AscentSettings,
    on_progress: ProgressCallback | None = None,
    on_snapshot: SnapshotCallback | None = None,
    should_stop: StopHook | None = None,
) -> np.ndarray:
    """Run the ascent loop on a batch and return the final images.

    Iteration ``n`` (from 0) takes one normalised-gradient step, then, when ``n >= tv_start``,
    denoises every image whose TV weight is above 0; a snapshot at ``n`` is the image after both,
    as in the seed.

    Raises
    ------
    Interrupted
        When ``should_stop`` returns True or the time budget runs out; snapshots already taken
        have been delivered.
    """
    channels = tf.constant(settings.channels, tf.int32)
    learning_rates = tf.constant(settings.learning_rates, tf.float32)
    tv_weights = tf.constant(settings.tv_weights, tf.float32)
    denoising = any(weight > 0 for weight in settings.tv_weights)
    images = tf.constant(start, tf.float32)
    started = time.monotonic()
    for iteration in range(settings.iterations):
        if should_stop is not None and should_stop():
            raise Interrupted("canceled", iteration - 1)
        budget = settings.time_budget_s
        if budget is not None and time.monotonic() - started > budget:
            raise Interrupted("time_budget", iteration - 1)
        objective, images = program.step(images, channels, learning_rates)
        if denoising and iteration >= settings.tv_start:
            images = program.denoise(images, tv_weights, settings.tv_mode)
        if on_progress is not None:
            on_progress(iteration, objective.numpy())
        if on_snapshot is not None and iteration in settings.snapshots:
            activation = program.activation(images, channels)
            on_snapshot(iteration, images.numpy(), activation.numpy())
    result: np.ndarray = images.numpy()
    return result
