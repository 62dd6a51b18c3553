"""The ascent loop: steps on a batch of images, with TV denoising and other regularisers.

Each image of a batch has its own target, learning rate and TV weight, and its gradient is
normalised on its own, so a batch of one is exactly the seed's step and a batch of many gives
each image what it would get alone. The traced functions live in an ``AscentProgram``, built once
per ``Design`` (what shapes the graph) and cached; tensors, never Python numbers, carry targets,
rates and iteration numbers, so a new filter index or learning rate never retraces.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from functools import partial

import keras
import numpy as np
import tensorflow as tf

from featviz_engine.errors import Interrupted
from featviz_engine.models import (
    Precision,
    Weights,
    extractor_for,
    load_network,
    redirected_relu_network,
    unregister_network,
)
from featviz_engine.objectives import (
    TERMS,
    Context,
    Objective,
    diversity,
    l1,
    l2,
)
from featviz_engine.objectives import direction as direction_objective
from featviz_engine.optimizers import OptimizerName, optimizer
from featviz_engine.parameterizations import ParameterizationName, parameterization
from featviz_engine.regularizers import gaussian_blur
from featviz_engine.transforms import TransformSettings, apply
from featviz_engine.tv import TVMode, denoise_tv_chambolle

ProgressCallback = Callable[[int, np.ndarray], None]
"""Called after every iteration with (iteration, per-image objective before the step)."""
SnapshotCallback = Callable[[int, np.ndarray, np.ndarray], None]
"""Called at snapshot iterations with (iteration, (B, H, W, 3) images, per-image activation)."""
StopHook = Callable[[], bool]
"""Checked every iteration; returning True cancels the optimisation."""

FLOAT16_LOSS_SCALE = 1024.0
"""float16 gradients through a deep network underflow; the loss is scaled up, the gradient down."""


@dataclass(frozen=True)
class Design:
    """Everything that shapes the traced graph (values that only feed tensors are not here).

    ``terms`` is a weighted sum of objective kinds (``channel``, ``neuron``, ``class_logit``);
    the first term is the one snapshots report as ``activation``. ``relu_warmup`` builds a
    second step, through the network with redirected ReLUs, for the first iterations.
    """

    model: str = "resnet50v2"
    weights: Weights = "random"
    layer: str = "conv5_block1_out"
    precision: Precision = "float32"
    terms: tuple[tuple[str, float], ...] = (("channel", 1.0),)
    direction: tuple[float, ...] | None = None
    diversity_weight: float = 0.0
    l1_weight: float = 0.0
    l2_weight: float = 0.0
    parameterization: ParameterizationName = "pixel"
    image_size: int = 224
    transforms: TransformSettings = field(default_factory=TransformSettings)
    optimizer: OptimizerName = "normalized_gradient"
    relu_warmup: bool = False

    @property
    def needs_logits(self) -> bool:
        return any(TERMS[kind]().needs_logits for kind, _ in self.terms)

    def primary(self) -> Objective:
        """The objective a snapshot's ``activation`` reports: the direction, else the first term."""
        if self.direction is not None:
            return direction_objective(self.direction)
        kind, _ = self.terms[0]
        return TERMS[kind]()

    def objective(self) -> Objective:
        """The full objective: weighted terms, direction, diversity, and L1/L2 penalties."""
        total: Objective | None = None
        parts: list[Objective] = [weight * TERMS[kind]() for kind, weight in self.terms]
        if self.direction is not None:
            parts = [direction_objective(self.direction), *parts[1:]]
        if self.diversity_weight:
            parts.append(self.diversity_weight * diversity())
        if self.l1_weight:
            parts.append(-self.l1_weight * l1())
        if self.l2_weight:
            parts.append(-self.l2_weight * l2())
        for part in parts:
            total = part if total is None else total + part
        assert total is not None
        return total


class AscentProgram:
    """The traced step, activation and denoise functions for one ``Design``.

    Attributes
    ----------
    step_traces
        How many times the step has been traced (once per batch shape, for a given design).
    """

    def __init__(self, design: Design) -> None:
        self.design = design
        self.network = load_network(
            design.model, design.weights, design.precision, include_top=design.needs_logits
        )
        outputs = (design.layer, "") if design.needs_logits else (design.layer,)
        self.extractor = extractor_for(self.network, outputs)
        self.warmup_step: Callable[..., tuple[tf.Tensor, tf.Tensor, tuple[tf.Tensor, ...]]]
        if design.relu_warmup:
            warmup_extractor = extractor_for(redirected_relu_network(self.network), outputs)
            self.warmup_step = tf.function(partial(self._step, extractor=warmup_extractor))
        self.parameterization = parameterization(design.parameterization, design.image_size)
        self.optimizer = optimizer(design.optimizer)
        self.full_objective = design.objective()
        self.primary_objective = design.primary()
        self.loss_scale = FLOAT16_LOSS_SCALE if design.precision == "float16" else 1.0
        self.step_traces = 0
        self.step = tf.function(self._step)
        self.activation = tf.function(self._activation)
        self.image_activation = tf.function(self._image_activation)
        self.to_image = tf.function(self.parameterization.to_image)
        # XLA fuses the many small elementwise ops of each Chambolle iteration.
        self.denoise = tf.function(denoise_tv_chambolle, jit_compile=True)
        self.blur = tf.function(gaussian_blur)

    def _context(
        self,
        images: tf.Tensor,
        targets: tf.Tensor,
        seed: tf.Tensor | None,
        extractor: keras.Model | None = None,
    ) -> Context:
        seen = images if seed is None else apply(images, self.design.transforms, seed)
        extractor = self.extractor if extractor is None else extractor
        outputs = extractor(self.network.to_model_input(seen), training=False)
        if not isinstance(outputs, list | tuple):
            outputs = [outputs]
        activations = tf.cast(outputs[0], tf.float32)
        logits = tf.cast(outputs[1], tf.float32) if len(outputs) > 1 else None
        return Context(activations, logits, targets, images)

    def _step(
        self,
        variables: tf.Tensor,
        targets: tf.Tensor,
        learning_rates: tf.Tensor,
        transform_seed: tf.Tensor,
        state: tuple[tf.Tensor, ...],
        extractor: keras.Model | None = None,
    ) -> tuple[tf.Tensor, tf.Tensor, tuple[tf.Tensor, ...]]:
        self.step_traces += 1
        seed = transform_seed if self.design.transforms.active else None
        with tf.GradientTape() as tape:
            tape.watch(variables)
            images = self.parameterization.to_image(variables)
            objective = self.full_objective(self._context(images, targets, seed, extractor))
            # Images do not interact in inference mode (diversity aside, on purpose), so the
            # gradient of the sum is each image's own gradient.
            total = tf.reduce_sum(objective) * self.loss_scale
        gradients = tape.gradient(total, variables) / self.loss_scale
        variables, state = self.optimizer.update(variables, gradients, learning_rates, state)
        return objective, variables, state

    def _activation(self, variables: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
        return self._image_activation(self.parameterization.to_image(variables), targets)

    def _image_activation(self, images: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
        """The primary objective of images in [-1, 1] space, untransformed."""
        return self.primary_objective(self._context(images, targets, None))

    def map_size(self, image_size: int) -> tuple[int, int]:
        """Height and width of the layer's activation map for a square image."""
        shapes = self.extractor.compute_output_shape((1, image_size, image_size, 3))
        shape = (
            shapes[0]
            if isinstance(shapes, list | tuple) and isinstance(shapes[0], tuple)
            else shapes
        )
        return int(shape[1]), int(shape[2])

    @property
    def channels(self) -> int:
        outputs = self.extractor.outputs
        return int(outputs[0].shape[-1])

    @property
    def classes(self) -> int | None:
        outputs = self.extractor.outputs
        return int(outputs[1].shape[-1]) if len(outputs) > 1 else None


_programs: dict[Design, AscentProgram] = {}
_programs_lock = threading.Lock()


def ascent_program(
    model: str | Design, weights: Weights = "random", layer: str = "conv5_block1_out"
) -> AscentProgram:
    """The process-wide program for a design (or for the seed's design on a model layer)."""
    design = model if isinstance(model, Design) else Design(model, weights, layer)
    with _programs_lock:
        if design not in _programs:
            _programs[design] = AscentProgram(design)
        return _programs[design]


def forget_model(name: str) -> None:
    """Drop a registered model's programs and the model itself (``unregister_network``)."""
    with _programs_lock:
        for design in [design for design in _programs if design.model == name]:
            del _programs[design]
    unregister_network(name)


def start_images(seed: int, image_size: int, batch: int) -> np.ndarray:
    """The seed's start: grey with uniform noise in [-0.125, 0.125], from a seeded generator.

    Every image of a batch starts from the same noise, so an image does not depend on the batch
    it was packed into.
    """
    return parameterization("pixel", image_size).initial(seed, image_size, batch)


@dataclass(frozen=True)
class AscentSettings:
    """What one optimisation run does, per image of the batch where it is a sequence.

    TV denoising and blurring act on pixel images, between steps; ``tv_start`` and
    ``blur_every`` say when. The first ``relu_warmup`` iterations step through redirected ReLUs
    (the program's design must have ``relu_warmup``).
    """

    channels: tuple[int, ...]
    learning_rates: tuple[float, ...]
    tv_weights: tuple[float, ...]
    iterations: int
    snapshots: Collection[int]
    tv_start: int = 50
    tv_mode: TVMode = "seed"
    blur_every: int = 0
    blur_sigma: float = 0.5
    seed: int = 0
    time_budget_s: float | None = None
    relu_warmup: int = 0


def optimize(
    program: AscentProgram,
    start: np.ndarray,
    settings: AscentSettings,
    on_progress: ProgressCallback | None = None,
    on_snapshot: SnapshotCallback | None = None,
    should_stop: StopHook | None = None,
) -> np.ndarray:
    """Run the ascent loop on a batch of variables and return the final images.

    Iteration ``n`` (from 0) takes one step, then, when ``n >= tv_start``, denoises every image
    whose TV weight is above 0; a snapshot at ``n`` is the image after both, as in the seed.

    Raises
    ------
    Interrupted
        When ``should_stop`` returns True or the time budget runs out; snapshots already taken
        have been delivered.
    """
    targets = tf.constant(settings.channels, tf.int32)
    learning_rates = tf.constant(settings.learning_rates, tf.float32)
    tv_weights = tf.constant(settings.tv_weights, tf.float32)
    denoising = any(weight > 0 for weight in settings.tv_weights)
    variables = tf.constant(start, tf.float32)
    state = program.optimizer.initial_state(variables)
    started = time.monotonic()
    for iteration in range(settings.iterations):
        if should_stop is not None and should_stop():
            raise Interrupted("canceled", iteration - 1)
        budget = settings.time_budget_s
        if budget is not None and time.monotonic() - started > budget:
            raise Interrupted("time_budget", iteration - 1)
        transform_seed = tf.constant([settings.seed, iteration], tf.int32)
        step = program.warmup_step if iteration < settings.relu_warmup else program.step
        objective, variables, state = step(
            variables, targets, learning_rates, transform_seed, state
        )
        if denoising and iteration >= settings.tv_start:
            variables = program.denoise(variables, tv_weights, settings.tv_mode)
        if settings.blur_every and (iteration + 1) % settings.blur_every == 0:
            variables = program.blur(variables, settings.blur_sigma)
        if on_progress is not None:
            on_progress(iteration, objective.numpy())
        if on_snapshot is not None and iteration in settings.snapshots:
            activation = program.activation(variables, targets)
            on_snapshot(iteration, program.to_image(variables).numpy(), activation.numpy())
    result: np.ndarray = program.to_image(variables).numpy()
    return result
