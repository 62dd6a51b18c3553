"""Objectives: what the ascent maximises, one value per image of a batch.

As in Lucid, an objective is a small object that adds and scales: ``channel() + 0.5 *
neuron()`` is an objective too. Each sees a ``Context`` (the batch's activations, logits, images
and per-image targets) and returns a ``(B,)`` tensor. Everything that varies between jobs of one
shape (the target channel or class of each image) arrives as a tensor, so a new target never
retraces the step.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import tensorflow as tf

BORDER = 2
"""Activation-map pixels excluded on each side, as in the seed, to avoid border artefacts."""


@dataclass(frozen=True)
class Context:
    """What an objective may look at.

    Attributes
    ----------
    activations
        ``(B, h, w, C)`` feature maps of the chosen layer (float32).
    logits
        ``(B, classes)`` model outputs, when an objective needs them; else None.
    targets
        ``(B,)`` int32: image ``i``'s channel (or class, for ``class_logit``).
    images
        ``(B, H, W, 3)`` the images being optimised, in [-1, 1] space, before transforms.
    start
        ``(B, H, W, 3)`` the images the ascent started from, for ``closeness``; else None.
    """

    activations: tf.Tensor
    logits: tf.Tensor | None
    targets: tf.Tensor
    images: tf.Tensor
    start: tf.Tensor | None = None


class Objective:
    """A per-image scalar to maximise; supports ``+``, ``-`` and scaling by a number."""

    def __init__(
        self, function: Callable[[Context], tf.Tensor], name: str, needs_logits: bool = False
    ) -> None:
        self.function = function
        self.name = name
        self.needs_logits = needs_logits

    def __call__(self, context: Context) -> tf.Tensor:
        return self.function(context)

    def __add__(self, other: Objective) -> Objective:
        return Objective(
            lambda context: self(context) + other(context),
            f"{self.name} + {other.name}",
            self.needs_logits or other.needs_logits,
        )

    def __mul__(self, factor: float) -> Objective:
        return Objective(
            lambda context: factor * self(context), f"{factor:g} * {self.name}", self.needs_logits
        )

    __rmul__ = __mul__

    def __neg__(self) -> Objective:
        return self * -1.0

    def __sub__(self, other: Objective) -> Objective:
        return self + (-other)

    def __repr__(self) -> str:
        return f"Objective({self.name})"


def _interior(activations: tf.Tensor) -> tf.Tensor:
    return activations[:, BORDER:-BORDER, BORDER:-BORDER, :]


def channel() -> Objective:
    """The seed's objective: mean activation of the target channel, border excluded."""

    def mean_activation(context: Context) -> tf.Tensor:
        selected = tf.gather(_interior(context.activations), context.targets, axis=3, batch_dims=1)
        return tf.reduce_mean(selected, axis=[1, 2])

    return Objective(mean_activation, "channel")


def channel_peak(hidden: float = 0.0) -> Objective:
    """A soft maximum (log-sum-exp) of the target channel over the interior of the map.

    Used on pre-activations to revive a dead filter: it climbs at the positions closest to
    switching on, where the mean would spread its step over the whole map. ``hidden`` is the
    share of the image, on each side, that its picture leaves out (the seed's crop): positions
    there are left out too, so that the filter wakes where the picture shows it.
    """

    def soft_maximum(context: Context) -> tf.Tensor:
        activations = context.activations
        margin = max(BORDER, math.ceil(hidden * activations.shape[1]))
        inside = activations[:, margin:-margin, margin:-margin, :]
        selected = tf.gather(inside, context.targets, axis=3, batch_dims=1)
        return tf.reduce_logsumexp(selected, axis=[1, 2])

    return Objective(soft_maximum, "channel_peak")


def neuron(y: int | None = None, x: int | None = None) -> Objective:
    """The target channel at one spatial position of the map (its centre by default)."""

    def activation_at(context: Context) -> tf.Tensor:
        shape = tf.shape(context.activations)
        row = shape[1] // 2 if y is None else y
        column = shape[2] // 2 if x is None else x
        at_position = context.activations[:, row, column, :]
        return tf.gather(at_position, context.targets, axis=1, batch_dims=1)

    return Objective(activation_at, "neuron")


def class_logit() -> Objective:
    """The target class's logit (the model's output before softmax)."""

    def logit(context: Context) -> tf.Tensor:
        if context.logits is None:
            raise ValueError("class_logit needs a model with its classification head")
        return tf.gather(context.logits, context.targets, axis=1, batch_dims=1)

    return Objective(logit, "class_logit", needs_logits=True)


def direction(vector: Sequence[float]) -> Objective:
    """Mean over the interior of the activations projected on a unit vector over channels."""
    unit = tf.math.l2_normalize(tf.constant(vector, tf.float32))

    def projection(context: Context) -> tf.Tensor:
        return tf.reduce_mean(tf.tensordot(_interior(context.activations), unit, 1), axis=[1, 2])

    return Objective(projection, "direction")


def diversity() -> Objective:
    """Minus the mean cosine similarity of an image's Gram matrix to the other images' (Lucid).

    It couples the images of a batch on purpose, to make them differ; a batch of one scores 0.
    """

    def dissimilarity(context: Context) -> tf.Tensor:
        activations = context.activations
        batch = tf.shape(activations)[0]
        flat = tf.reshape(activations, [batch, -1, tf.shape(activations)[3]])
        grams = tf.math.l2_normalize(
            tf.reshape(tf.matmul(flat, flat, transpose_a=True), [batch, -1]), axis=1
        )
        similarity = tf.matmul(grams, grams, transpose_b=True)
        others = tf.maximum(tf.cast(batch, tf.float32) - 1.0, 1.0)
        return -(tf.reduce_sum(similarity, axis=1) - tf.linalg.diag_part(similarity)) / others

    return Objective(dissimilarity, "diversity")


def l1() -> Objective:
    """Mean absolute pixel value; scale it by a negative weight to penalise."""
    return Objective(lambda context: tf.reduce_mean(tf.abs(context.images), axis=[1, 2, 3]), "l1")


def l2() -> Objective:
    """Mean squared pixel value; scale it by a negative weight to penalise."""
    return Objective(
        lambda context: tf.reduce_mean(tf.square(context.images), axis=[1, 2, 3]), "l2"
    )


def closeness() -> Objective:
    """Mean squared distance of each image to its start image; scale it by a negative weight to
    keep an ascent that starts from a photo near it (feature accentuation, Hamblin et al. 2024;
    Lucid's caricature)."""

    def distance(context: Context) -> tf.Tensor:
        if context.start is None:
            raise ValueError("closeness needs the start images")
        return tf.reduce_mean(tf.square(context.images - context.start), axis=[1, 2, 3])

    return Objective(distance, "closeness")


TERMS: dict[str, Callable[[], Objective]] = {
    "channel": channel,
    "neuron": neuron,
    "class_logit": class_logit,
}
"""Objective kinds a spec can name without further parameters."""


def min_map_size() -> int:
    """The smallest activation map (height or width) that keeps an interior pixel."""
    return 2 * BORDER + 1
