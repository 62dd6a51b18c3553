"""The ascent loop: steps on a batch of images, with TV denoising and other regularisers.

Each image of a batch has its own target, learning rate and TV weight, and its gradient is
normalised on its own, so a batch of one is exactly the seed's step and a batch of many gives
each image what it would get alone. The traced functions live in an ``AscentProgram``, built once
per ``Design`` (what shapes the graph) and cached; tensors, never Python numbers, carry targets,
rates and iteration numbers, so a new filter index or learning rate never retraces.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from featviz.fields import JobFields
from featviz_engine import caches
from featviz_engine.display import hidden_share
from featviz_engine.errors import Interrupted
from featviz_engine.models import (
    Precision,
    Weights,
    ends_in_relu,
    extractor_for,
    load_network,
    pre_activation_extractor,
    redirected_relu_network,
)
from featviz_engine.objectives import (
    TERMS,
    Context,
    Objective,
    channel_peak,
    closeness,
    diversity,
    l1,
    l2,
)
from featviz_engine.objectives import direction as direction_objective
from featviz_engine.optimizers import Adam, OptimizerName, optimizer
from featviz_engine.parameterizations import ParameterizationName, parameterization
from featviz_engine.regularizers import gaussian_blur
from featviz_engine.transforms import TransformSettings, apply
from featviz_engine.tv import TVMode, traced_denoiser

StepOutputs = tuple[tf.Tensor, tf.Tensor, tuple[tf.Tensor, ...], tf.Tensor]
"""A step's per-image objective before it, the variables and optimiser state after it, and a
per-image flag: ``stuck`` for the ordinary step (``AscentProgram.step``), ``reviving`` for the
revival step."""
RevivalOutputs = tuple[
    tf.Tensor, tf.Tensor, tuple[tf.Tensor, ...], tf.Tensor, tuple[tf.Tensor, ...]
]
"""The revival step's ``StepOutputs`` (its flag: ``reviving``) and its climb state after it."""
ProgressCallback = Callable[[int, np.ndarray], None]
"""Called after every iteration with (iteration, per-image objective before the step)."""
SnapshotCallback = Callable[[int, np.ndarray, np.ndarray], None]
"""Called at snapshot iterations with (iteration, (B, H, W, 3) images, per-image activation)."""
StopHook = Callable[[], bool | str]
"""Checked every iteration; True (a cancel) or a reason, such as ``"drain"``, stops the
optimisation."""


def traced(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` as a ``tf.function`` without AutoGraph.

    The engine's traced code branches on Python values only (the design, shapes), never on a
    tensor, so AutoGraph would produce the same graph; converting the source of every function a
    step calls (objectives, parameterisation, transforms, optimiser) was a third of the step's
    tracing time, which every process pays before its first iteration.
    """
    traced_function: Callable[..., Any] = tf.function(function, autograph=False)
    return traced_function


def _image_tape() -> tf.GradientTape:
    """A tape for the gradient with respect to the watched image variables only.

    The network's weights, read inside it, are not watched: their gradient ops (a quarter of a
    step's traced graph, which Grappler then prunes) are never built. The image's gradient is
    computed by the same ops either way.
    """
    return tf.GradientTape(watch_accessed_variables=False)


REVIVAL_PATIENCE = 32
"""Revival steps an image takes with the job's own step before it is *stubborn* and climbs on
its pixels (``REVIVAL_RATE``): most dead images wake within a few of the job's steps, which keep
their pictures as smooth as a live image's, where a per-pixel step leaves noise."""

REVIVAL_BLUR_SIGMA = 1.0
"""A spectrum's stubborn image climbs along its gradient blurred by this much: on block2_conv2
and block3_conv3 (recommended, sign steps) the layers' HF fraction was 0.146 and 0.114 with the
plain gradient, 0.130 and 0.072 with this, 0.127 and 0.052 at 2.0 (which lost some activation)."""

SPECTRUM_CLIMB = Adam(epsilon=1e-3)
"""How a spectrum's stubborn image climbs, on its pixels, untransformed, from then on to the end.

block3_conv3 filter 4 of the trained VGG16 (recommended, 128 px) stayed dead under sign steps:
its pre-activation maximum rose to about -10 and stalled while the sign of a gradient that is
faint outside one receptive field roughened the whole picture (mean pre-activation -52 to -278),
and untransformed it reached 0 and flickered on and off, the job's step switching it off again.
Adam on the L2-normalised gradient (so that the soft maximum's gradient and the mean's, a
thousand times smaller, take steps of one size) woke it by iteration 80 and kept it climbing
(maximum +17 by 224). Its epsilon is a fifth of an entry of a unit gradient spread evenly over a
128 px image, so that pixels the gradient barely reaches move in proportion to it: at Adam's
default (1e-8) they took full-size steps of their noise, a grey-brown mottle over the whole
picture (recommended, block2_conv2: HF fraction 0.116, 0.091 with this, every tile alive;
block3_conv3: 0.042, 0.044, filter 4's displayed activation 0.010, 0.016). The seed's pixels keep
the sign step: their TV cleans its noise, and on the Xeon of docs/quality.md the seed preset woke
every filter of the four layers with it."""

REVIVAL_RATE = 0.02
"""How far a stubborn image moves per step: a pixel image's every pixel by this along its
gradient's sign, a spectrum's pixels about this far (``SPECTRUM_CLIMB``'s step).

A dead filter's revival gradient sits in the receptive fields of the few positions nearest to
switching on; the seed's step (the gradient, L2-normalised, times 2.0) spends itself on the few
largest entries there, overshoots and moves the map's maximum about (block2_conv2 filter 4 of the
trained VGG16, 128 px: its pre-activation maximum went from -55 to -78 in 120 steps), while the
sign step moves the whole field at once (awake at step 9, +231 by step 120). The step is taken
on the image, whatever the parameterisation: a spectrum's own step spreads it over the whole
picture (1/f weights the low frequencies), and a sign step on every coefficient is noise."""

FLOAT16_LOSS_SCALE = 1024.0
"""float16 gradients through a deep network underflow; the loss is scaled up, the gradient down."""


@dataclass(frozen=True)
class Design:
    """Everything that shapes the traced graph (values that only feed tensors are not here).

    Its defaults are the job fields' (featviz.fields); ``render.design_of`` builds it from a spec.

    ``terms`` is a weighted sum of objective kinds (``channel``, ``neuron``, ``class_logit``);
    the first term is the one snapshots report as ``activation``. ``relu_warmup`` builds a
    second step, through the network with redirected ReLUs, for the first iterations;
    ``revive_dead`` builds the step for batches with images dead at their start
    (``AscentProgram.revival_step``). ``closeness_weight`` penalises the distance to the start
    images (a job's ``start_image_weight`` when it starts from an image, else 0: no term;
    ``anchor``).
    """

    model: str
    weights: Weights
    layer: str
    precision: Precision = JobFields.precision.default
    terms: tuple[tuple[str, float], ...] = JobFields.objective.engine_value
    direction: tuple[float, ...] | None = JobFields.direction.default
    diversity_weight: float = JobFields.diversity_weight.default
    l1_weight: float = JobFields.l1_weight.default
    l2_weight: float = JobFields.l2_weight.default
    closeness_weight: float = 0.0
    parameterization: ParameterizationName = JobFields.parameterization.default
    spectrum_decay: float = JobFields.spectrum_decay.default
    image_size: int = JobFields.image_size.default
    transforms: TransformSettings = field(default_factory=TransformSettings)
    optimizer: OptimizerName = JobFields.optimizer.default
    relu_warmup: bool = JobFields.relu_warmup.default > 0
    revive_dead: bool = JobFields.dead_start.default == "revive"

    @property
    def needs_logits(self) -> bool:
        return any(TERMS[kind]().needs_logits for kind, _ in self.terms)

    def primary(self) -> Objective:
        """The objective a snapshot's ``activation`` reports: the direction, else the first term."""
        if self.direction is not None:
            return direction_objective(self.direction)
        kind, _ = self.terms[0]
        return TERMS[kind]()

    def revival_objective(self) -> Objective:
        """What a dead image climbs on the pre-activations: the channel's soft maximum over the
        part of the map its picture shows, for the channel objective; the primary objective
        itself otherwise."""
        if self.direction is None and self.terms[0][0] == "channel":
            return channel_peak(hidden_share(self.parameterization, self.image_size))
        return self.primary()

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

    def anchor(self) -> Objective | None:
        """The closeness penalty that keeps images near their start image; None without one.

        Kept out of ``objective``: what is reported, and what tells a dead image (0), is the
        objective of the filter, not how far the image has gone from its photo.
        """
        return -self.closeness_weight * closeness() if self.closeness_weight else None


class AscentProgram:
    """The traced step, activation and denoise functions for one ``Design``.

    Attributes
    ----------
    step_traces
        How many times the step has been traced (once per batch shape, for a given design).
    step_finds_dead_starts
        The ordinary step sees the image it starts from as the dead check does (no transforms)
        and climbs the objective alone (no closeness term), so the first step's own pass tells
        which images are dead at their start: ``optimize`` runs no separate check.
    """

    def __init__(self, design: Design) -> None:
        self.design = design
        self.network = load_network(
            design.model, design.weights, design.precision, include_top=design.needs_logits
        )
        outputs = (design.layer, "") if design.needs_logits else (design.layer,)
        self.extractor = extractor_for(self.network, outputs)
        self.warmup_step: Callable[..., StepOutputs]
        if design.relu_warmup:
            warmup_extractor = extractor_for(redirected_relu_network(self.network), outputs)
            self.warmup_step = traced(partial(self._step, extractor=warmup_extractor))
        self.can_revive = design.revive_dead and not design.needs_logits
        if self.can_revive:
            self.pre_activations = pre_activation_extractor(self.network, design.layer)
            self.relu_after_pre = ends_in_relu(self.network, design.layer)
            self.revival_objective = design.revival_objective()
            self.revival_step = traced(self._revival_step)
        self.parameterization = parameterization(
            design.parameterization, design.image_size, design.spectrum_decay
        )
        self.optimizer = optimizer(design.optimizer)
        self.full_objective = design.objective()
        self.anchor = design.anchor()
        self.primary_objective = design.primary()
        self.loss_scale = FLOAT16_LOSS_SCALE if design.precision == "float16" else 1.0
        self.step_traces = 0
        self.step_finds_dead_starts = not design.transforms.active and self.anchor is None
        self.step = traced(self._step)
        self.dead = traced(self._dead)
        self.image_activation = traced(self._image_activation)
        self.to_image = traced(self.parameterization.to_image)
        self.denoise = traced_denoiser()
        self.blur = traced(gaussian_blur)

    def _context(
        self,
        images: tf.Tensor,
        targets: tf.Tensor,
        seed: tf.Tensor | None,
        start: tf.Tensor | None = None,
        extractor: keras.Model | None = None,
    ) -> Context:
        seen = images if seed is None else apply(images, self.design.transforms, seed)
        extractor = self.extractor if extractor is None else extractor
        outputs = extractor(self.network.to_model_input(seen), training=False)
        if not isinstance(outputs, list | tuple):
            outputs = [outputs]
        activations = tf.cast(outputs[0], tf.float32)
        logits = tf.cast(outputs[1], tf.float32) if len(outputs) > 1 else None
        return Context(activations, logits, targets, images, start)

    def _step(
        self,
        variables: tf.Tensor,
        targets: tf.Tensor,
        learning_rates: tf.Tensor,
        transform_seed: tf.Tensor,
        state: tuple[tf.Tensor, ...],
        start: tf.Tensor,
        extractor: keras.Model | None = None,
    ) -> StepOutputs:
        """The ordinary step; its flag is ``stuck``: its start image is dead (as ``dead`` says)."""
        self.step_traces += 1
        seed = transform_seed if self.design.transforms.active else None
        with _image_tape() as tape:
            tape.watch(variables)
            images = self.parameterization.to_image(variables)
            context = self._context(images, targets, seed, start, extractor)
            objective = self.full_objective(context)
            # Images do not interact in inference mode (diversity aside, on purpose), so the
            # gradient of the sum is each image's own gradient.
            total = tf.reduce_sum(self._anchored(objective, context)) * self.loss_scale
        scaled = tape.gradient(total, variables)
        gradients = scaled / self.loss_scale
        variables, state = self.optimizer.update(variables, gradients, learning_rates, state)
        return objective, variables, state, self._stuck(context, scaled)

    def _revival_step(
        self,
        variables: tf.Tensor,
        targets: tf.Tensor,
        learning_rates: tf.Tensor,
        transform_seed: tf.Tensor,
        state: tuple[tf.Tensor, ...],
        start: tf.Tensor,
        dead_at_start: tf.Tensor,
        stubborn: tf.Tensor,
        climb_state: tuple[tf.Tensor, ...],
    ) -> RevivalOutputs:
        """The step of a batch with images dead at their start, in one forward and backward pass.

        The network runs up to the layer's pre-activations; the layer's output is their ReLU
        (the same operations as the layer's own, so a live image gets bit for bit the ordinary
        step). An image dead at its start whose objective is 0 now is *reviving*: it climbs the
        revival objective of the pre-activations instead, where a dead filter still has a
        gradient through the live units upstream. A reviving image takes the job's step, or, once
        ``stubborn`` (``REVIVAL_PATIENCE``), a step on its pixels: for the pixel parameterisation
        a sign step (``REVIVAL_RATE``) while it revives; for a spectrum ``SPECTRUM_CLIMB``'s
        step on the untransformed image, turned back into its variables
        (``Parameterization.from_image``), for the rest of the run, alive or not. Reviving pixels
        are clipped to [-1, 1] (the spectra's are in range by construction), so revival looks for
        an image the model can be given, and a filter dead over the whole range stays dead.

        Returns
        -------
        The per-image objective before the step, the variables and state after it, which
        images were reviving, and the spectra's climb state (``SPECTRUM_CLIMB``'s, per image).
        """
        self.step_traces += 1
        seed = transform_seed if self.design.transforms.active else None
        with _image_tape() as tape:
            tape.watch(variables)
            images = self.parameterization.to_image(variables)
            pixels = self.design.parameterization == "pixel"
            seen = images
            if seed is not None:
                seen = apply(images, self.design.transforms, seed)
                if not pixels:
                    # A stubborn spectrum climbs its one image: a pattern that must sit exactly
                    # on the receptive field to switch the filter on is moved off it by every
                    # jitter. Padded as the transforms pad (grey), to the size they give.
                    size = seen.shape[1]
                    plain = tf.image.resize_with_crop_or_pad(images, size, size)
                    seen = _per_image_where(stubborn, plain, seen)
            model_input = self.network.to_model_input(seen)
            pre = tf.cast(self.pre_activations(model_input, training=False), tf.float32)
            output = tf.nn.relu(pre) if self.relu_after_pre else pre
            context = Context(output, None, targets, images, start)
            objective = self.full_objective(context)
            reviving = tf.logical_and(dead_at_start, tf.equal(objective, 0.0))
            revival = self.revival_objective(Context(pre, None, targets, images))
            # The branch not chosen gets an exact zero gradient, so a live image's is unchanged.
            chosen = self._anchored(tf.where(reviving, revival, objective), context)
            total = tf.reduce_sum(chosen) * self.loss_scale
        scaled, image_gradients = tape.gradient(total, [variables, images])
        gradients = scaled / self.loss_scale
        stepped, state = self.optimizer.update(variables, gradients, learning_rates, state)
        climbing = stubborn
        if pixels:
            stepped = _per_image_where(reviving, tf.clip_by_value(stepped, -1.0, 1.0), stepped)
            climbing = tf.logical_and(reviving, stubborn)

        def climb() -> tuple[tf.Tensor, tuple[tf.Tensor, ...]]:
            if pixels:
                climbed = images + REVIVAL_RATE * tf.sign(image_gradients)
                moved = climb_state
            else:
                # Nothing smooths a spectrum's picture afterwards (the seed's pixels have TV),
                # and a per-pixel step is the finest noise there is.
                blurred = gaussian_blur(image_gradients, REVIVAL_BLUR_SIGMA)
                rates = tf.fill(tf.shape(images)[:1], REVIVAL_RATE)
                direction = tf.math.l2_normalize(blurred, axis=[1, 2, 3])
                climbed, moved = SPECTRUM_CLIMB.update(images, direction, rates, climb_state)
            climbed = self.parameterization.from_image(tf.clip_by_value(climbed, -1.0, 1.0))
            kept = tuple(
                _per_image_where(climbing, new, old)
                for new, old in zip(moved, climb_state, strict=True)
            )
            return _per_image_where(climbing, climbed, stepped), kept

        # Most revival steps have no stubborn image: they skip the blur and the spectrum's FFT.
        stepped, climb_state = tf.cond(
            tf.reduce_any(climbing), climb, lambda: (stepped, climb_state)
        )
        return objective, stepped, state, reviving, climb_state

    def _anchored(self, objective: tf.Tensor, context: Context) -> tf.Tensor:
        """What the step climbs: the objective, less the closeness penalty when there is one."""
        return objective if self.anchor is None else objective + self.anchor(context)

    def _dead(self, variables: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
        """Per image: its primary objective is 0, or the full objective's gradient is all 0
        (where the seed's step cannot move it)."""
        with _image_tape() as tape:
            tape.watch(variables)
            images = self.parameterization.to_image(variables)
            context = self._context(images, targets, None)
            total = tf.reduce_sum(self.full_objective(context)) * self.loss_scale
        return self._stuck(context, tape.gradient(total, variables))

    def _stuck(self, context: Context, gradients: tf.Tensor) -> tf.Tensor:
        """Per image of ``context``: its primary objective is 0, or ``gradients`` (of the
        objective, with respect to the variables) are all 0."""
        axes = list(range(1, len(gradients.shape)))
        still = tf.reduce_all(tf.equal(gradients, 0.0), axis=axes)
        return tf.logical_or(tf.equal(self.primary_objective(context), 0.0), still)

    def activation(self, variables: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
        """The primary objective of the variables' images, untransformed.

        The traced ``to_image`` and ``image_activation``, not a function of its own: a snapshot
        needs both anyway, and each traced function traces the whole network again.
        """
        return self.image_activation(self.to_image(variables), targets)

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


def ascent_program(
    model: str | Design,
    weights: Weights = JobFields.weights.default,
    layer: str = JobFields.layer.default,
) -> AscentProgram:
    """The process-wide program for a design (or for the seed's design on a model layer)."""
    design = model if isinstance(model, Design) else Design(model, weights, layer)
    return caches.cached(caches.programs, design, lambda: AscentProgram(design))


def start_images(seed: int, image_size: int, batch: int) -> np.ndarray:
    """The seed's start: grey with uniform noise in [-0.125, 0.125], from a seeded generator.

    Every image of a batch starts from the same noise, so an image does not depend on the batch
    it was packed into.
    """
    return parameterization("pixel", image_size).initial(seed, image_size, batch)


@dataclass
class DeadStarts:
    """What ``optimize`` found about images dead at their start, one entry per image.

    Attributes
    ----------
    dead_at_start
        The start image's primary objective is 0 or its gradient is all 0: the seed's step
        would leave it where it is.
    came_alive_at
        For an image dead at its start and revived: the first iteration whose step was the
        ordinary one again (``iterations`` when only the last step woke it); None otherwise.
    """

    dead_at_start: list[bool] = field(default_factory=list)
    came_alive_at: list[int | None] = field(default_factory=list)


def _per_image_where(mask: tf.Tensor, chosen: tf.Tensor, other: tf.Tensor) -> tf.Tensor:
    """``chosen`` for the images where ``mask`` is True, ``other`` elsewhere; tensors without a
    batch axis (Adam's step count) are the same for both and come from ``other``."""
    if len(other.shape) == 0:
        return other
    return tf.where(tf.reshape(mask, [-1] + [1] * (len(other.shape) - 1)), chosen, other)


@dataclass(frozen=True)
class AscentSettings:
    """What one optimisation run does, per image of the batch where it is a sequence.

    TV denoising and blurring act on pixel images, between steps; ``tv_start`` and
    ``blur_every`` say when. The first ``relu_warmup`` iterations step through redirected ReLUs
    (the program's design must have ``relu_warmup``). ``revive_dead`` (the program's design must
    have it) gives each image dead at its start revival steps (``AscentProgram.revival_step``)
    from the end of the warm-up until it is alive; the other images' steps are untouched.
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
    revive_dead: bool = False


def optimize(
    program: AscentProgram,
    start: np.ndarray,
    settings: AscentSettings,
    on_progress: ProgressCallback | None = None,
    on_snapshot: SnapshotCallback | None = None,
    should_stop: StopHook | None = None,
    dead_starts: DeadStarts | None = None,
) -> np.ndarray:
    """Run the ascent loop on a batch of variables and return the final images.

    ``start`` holds the variables the ascent starts from, whose images the design's closeness
    term (``Design.anchor``) keeps the images near. Iteration ``n`` (from 0) takes one step,
    then, when ``n >= tv_start``, denoises every image whose TV weight is above 0; a snapshot
    at ``n`` is the image after both, as in the seed. With ``settings.revive_dead``,
    ``dead_starts`` (when given) is filled in. A batch with images dead at their start takes
    ``revival_step`` instead of the ordinary step, which costs the same and gives every other
    image bit for bit what it gets without revival. Where the program's step sees its start as
    the dead check does (``step_finds_dead_starts``, no ReLU warm-up), the first ordinary step
    finds the dead images; when it finds some, the revival step replaces it, from the same start.

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
    # What a closeness term measures the distance to (unused without one).
    anchors = program.to_image(variables)
    state = program.optimizer.initial_state(variables)
    batch = len(settings.channels)
    dead_at_start = np.zeros(batch, bool)
    first_step_finds_dead = (
        settings.revive_dead and program.step_finds_dead_starts and settings.relu_warmup == 0
    )
    if settings.revive_dead and not first_step_finds_dead:
        dead_at_start = program.dead(variables, targets).numpy()
    reviving = np.zeros(batch, bool)
    revival_steps = np.zeros(batch, int)
    revival = settings.revive_dead and program.can_revive and bool(dead_at_start.any())
    dead_mask = tf.constant(dead_at_start)
    came_alive_at: list[int | None] = [None] * batch
    # Per image, so that each stubborn spectrum's climb starts its own count.
    climb_state = (*SPECTRUM_CLIMB.initial_state(anchors)[:2], tf.zeros([batch, 1, 1, 1]))
    started = time.monotonic()
    for iteration in range(settings.iterations):
        stop = should_stop() if should_stop is not None else False
        if stop:
            raise Interrupted("canceled" if stop is True else stop, iteration - 1)
        budget = settings.time_budget_s
        if budget is not None and time.monotonic() - started > budget:
            raise Interrupted("time_budget", iteration - 1)
        transform_seed = tf.constant([settings.seed, iteration], tf.int32)
        arguments = (variables, targets, learning_rates, transform_seed, state, anchors)
        if iteration < settings.relu_warmup:
            objective, variables, state, _ = program.warmup_step(*arguments)
        else:
            ordinary = None if revival else program.step(*arguments)
            if ordinary is not None and iteration == 0 and first_step_finds_dead:
                dead_at_start = ordinary[3].numpy()
                dead_mask = tf.constant(dead_at_start)
                revival = program.can_revive and bool(dead_at_start.any())
            if revival:
                # Re-entrant: an image switched off again by a step is revived again. A first
                # step that found images dead is not taken: this step replaces it.
                stubborn = tf.constant(revival_steps >= REVIVAL_PATIENCE)
                objective, variables, state, now_reviving, climb_state = program.revival_step(
                    *arguments, dead_mask, stubborn, climb_state
                )
                reviving = now_reviving.numpy()
                revival_steps += reviving
            else:
                assert ordinary is not None
                objective, variables, state, _ = ordinary
                if settings.revive_dead:
                    # A design that cannot revive (a logit objective) still records its dead
                    # ones: the objective is of the image the step started from.
                    reviving = dead_at_start & (objective.numpy() == 0)
        if settings.revive_dead and iteration >= settings.relu_warmup:
            for index in np.flatnonzero(dead_at_start):
                if reviving[index]:
                    came_alive_at[index] = None
                elif came_alive_at[index] is None:
                    came_alive_at[index] = iteration
        if denoising and iteration >= settings.tv_start:
            variables = program.denoise(variables, tv_weights, settings.tv_mode)
        if settings.blur_every and (iteration + 1) % settings.blur_every == 0:
            variables = program.blur(variables, settings.blur_sigma)
        if on_progress is not None:
            on_progress(iteration, objective.numpy())
        if on_snapshot is not None and iteration in settings.snapshots:
            images = program.to_image(variables)
            activation = program.image_activation(images, targets)
            on_snapshot(iteration, images.numpy(), activation.numpy())
    if dead_starts is not None and settings.revive_dead:
        if reviving.any():  # only the last step may have woken an image
            woken = reviving & ~program.dead(variables, targets).numpy()
            for index in np.flatnonzero(woken):
                came_alive_at[index] = settings.iterations
        dead_starts.dead_at_start = [bool(dead) for dead in dead_at_start]
        dead_starts.came_alive_at = came_alive_at
    result: np.ndarray = program.to_image(variables).numpy()
    return result
