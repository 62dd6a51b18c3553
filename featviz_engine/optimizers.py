"""Update rules for the optimised variables, applied to each image of a batch on its own."""

from __future__ import annotations

from typing import Literal, Protocol

import tensorflow as tf

OptimizerName = Literal["normalized_gradient", "adam"]
OPTIMIZERS: tuple[OptimizerName, ...] = ("normalized_gradient", "adam")


def _per_image(rates: tf.Tensor, like: tf.Tensor) -> tf.Tensor:
    return tf.reshape(rates, [-1] + [1] * (len(like.shape) - 1))


class Optimizer(Protocol):
    """Ascent: ``update`` moves the variables along the gradient of the objective."""

    def initial_state(self, variables: tf.Tensor) -> tuple[tf.Tensor, ...]: ...

    def update(
        self,
        variables: tf.Tensor,
        gradients: tf.Tensor,
        learning_rates: tf.Tensor,
        state: tuple[tf.Tensor, ...],
    ) -> tuple[tf.Tensor, tuple[tf.Tensor, ...]]: ...


class NormalizedGradient:
    """The seed's step: the gradient, L2-normalised per image, times the learning rate."""

    def initial_state(self, variables: tf.Tensor) -> tuple[tf.Tensor, ...]:
        return ()

    def update(
        self,
        variables: tf.Tensor,
        gradients: tf.Tensor,
        learning_rates: tf.Tensor,
        state: tuple[tf.Tensor, ...],
    ) -> tuple[tf.Tensor, tuple[tf.Tensor, ...]]:
        axes = list(range(1, len(variables.shape)))
        step = tf.math.l2_normalize(gradients, axis=axes)
        return variables + _per_image(learning_rates, variables) * step, state


class Adam:
    """Adam (Kingma and Ba), ascending; element-wise, so images stay independent."""

    def __init__(self, beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-8) -> None:
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def initial_state(self, variables: tf.Tensor) -> tuple[tf.Tensor, ...]:
        zeros = tf.zeros_like(variables)
        return zeros, zeros, tf.zeros([], tf.float32)

    def update(
        self,
        variables: tf.Tensor,
        gradients: tf.Tensor,
        learning_rates: tf.Tensor,
        state: tuple[tf.Tensor, ...],
    ) -> tuple[tf.Tensor, tuple[tf.Tensor, ...]]:
        first, second, steps = state
        steps = steps + 1.0
        first = self.beta_1 * first + (1.0 - self.beta_1) * gradients
        second = self.beta_2 * second + (1.0 - self.beta_2) * tf.square(gradients)
        first_unbiased = first / (1.0 - tf.pow(self.beta_1, steps))
        second_unbiased = second / (1.0 - tf.pow(self.beta_2, steps))
        step = first_unbiased / (tf.sqrt(second_unbiased) + self.epsilon)
        return variables + _per_image(learning_rates, variables) * step, (first, second, steps)


def optimizer(name: OptimizerName) -> Optimizer:
    if name == "normalized_gradient":
        return NormalizedGradient()
    if name == "adam":
        return Adam()
    raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {name!r}")
