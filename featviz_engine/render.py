"""The simple entry point: a ``RenderSpec`` in, labelled snapshots and metrics out."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from featviz.packing import pack_filters
from featviz_engine.ascent import (
    AscentProgram,
    AscentSettings,
    DeadStarts,
    Design,
    StopHook,
    ascent_program,
    optimize,
)
from featviz_engine.display import as_model_images, displayed_activations, picture
from featviz_engine.errors import SpecError
from featviz_engine.images import to_uint8
from featviz_engine.metrics import snapshot_metrics
from featviz_engine.objectives import min_map_size
from featviz_engine.results import FilterResult, Snapshot, keep_snapshots
from featviz_engine.spec import RenderSpec, check_numbers


@dataclass
class RenderResult:
    """The render's images, and its ``timings``: seconds to prepare (``prepare_s``), to optimise
    (``optimise_s``) and in all (``total_s``), ``ms_per_filter_iteration``, and
    ``first_iteration_at``, the Unix time at which its first iteration finished (what a cold
    start is measured to, from a command's launch: ``benchmarks/cold_start.py``)."""

    spec: RenderSpec
    filters: list[FilterResult]
    timings: dict[str, float]


RenderProgress = Callable[[int, int, np.ndarray], None]
"""Called after every iteration with (iterations done, iterations in all, objective per image);
the counts run over all packs of the render."""
RenderSnapshot = Callable[[Snapshot], None]
"""Called for each snapshot as soon as it exists."""


def design_of(spec: RenderSpec, start_image: bool = False) -> Design:
    """The part of a (resolved) spec that shapes the traced graph; with ``start_image`` the
    ascent starts from an image, kept near it by ``start_image_weight``."""
    return Design(
        model=spec.model,
        weights=spec.weights,
        layer=spec.layer,
        precision=spec.precision,
        terms=spec.objective,
        direction=spec.direction,
        diversity_weight=spec.diversity_weight,
        l1_weight=spec.l1_weight,
        l2_weight=spec.l2_weight,
        closeness_weight=spec.start_image_weight if start_image else 0.0,
        parameterization=spec.parameterization,
        spectrum_decay=spec.spectrum_decay,
        image_size=spec.image_size,
        transforms=spec.transform_settings(),
        optimizer=spec.optimizer,
        relu_warmup=spec.relu_warmup > 0,
        revive_dead=spec.dead_start == "revive",
    )


def check_against_model(spec: RenderSpec, program: AscentProgram) -> None:
    """Checks that need the network: target indices, sizes, the activation map."""
    fixed_size = program.network.input_size
    if fixed_size is not None and spec.image_size != fixed_size:
        raise SpecError("image_size", f"this network takes {fixed_size} px images only")
    classes = program.classes
    targets, what = (classes, "classes") if classes is not None else (program.channels, "channels")
    too_large = [f for f in spec.filters if f >= targets]
    if too_large:
        where = "the model" if classes is not None else f"layer {spec.layer!r}"
        raise SpecError(
            "filters", f"{where} has {targets} {what} (0..{targets - 1}); got {too_large}"
        )
    if spec.direction is not None and len(spec.direction) != program.channels:
        raise SpecError(
            "direction",
            f"needs one value per channel of {spec.layer!r} ({program.channels}), "
            f"got {len(spec.direction)}",
        )
    height, width = program.map_size(spec.image_size)
    if min(height, width) < min_map_size():
        raise SpecError(
            "image_size",
            f"at {spec.image_size} px layer {spec.layer!r} gives a {height}x{width} activation "
            f"map, which leaves nothing once the 2-pixel border is excluded; use a larger image "
            f"or an earlier layer",
        )


def prepare(spec: RenderSpec, start_image: bool = False) -> tuple[RenderSpec, AscentProgram]:
    """Validate the spec completely; return it resolved, with the (cached) program to run it
    (from a start image, for ``render_pack``'s ``start_image``, when ``start_image``)."""
    spec = spec.resolved()
    check_numbers(spec)
    program = ascent_program(design_of(spec, start_image))
    check_against_model(spec, program)
    return spec, program


def _snapshots(
    program: AscentProgram,
    results: Sequence[FilterResult],
    iteration: int,
    images: np.ndarray,
    activations: np.ndarray,
) -> list[Snapshot]:
    """The batch's snapshots: each picture as displayed, and what that picture activates."""
    pictures = [picture(image, program.design.parameterization) for image in images]
    rgb = np.stack([to_uint8(p) for p in pictures])
    targets = tf.constant([result.filter for result in results], tf.int32)
    shown = displayed_activations(program.image_activation, rgb, targets, images.shape[1])
    return [
        Snapshot(
            result.filter,
            result.tv_weight,
            iteration,
            tile,
            snapshot_metrics(displayed, activation, displayed_activation),
        )
        for result, tile, displayed, activation, displayed_activation in zip(
            results, rgb, pictures, activations, shown, strict=True
        )
    ]


def render_pack(
    spec: RenderSpec,
    program: AscentProgram,
    channels: Sequence[int],
    tv_weights: Sequence[float],
    on_progress: Callable[[int, np.ndarray], None] | None = None,
    on_snapshot: RenderSnapshot | None = None,
    should_stop: StopHook | None = None,
    time_budget_s: float | None = None,
    start_image: np.ndarray | None = None,
) -> list[FilterResult]:
    """Optimise one batch: image ``i`` maximises ``channels[i]`` under ``tv_weights[i]``.

    ``spec`` and ``program`` come from ``prepare`` (with ``start_image`` when one is given here).
    Every image starts from the spec's seeded noise, or from ``start_image``: ``(H, W, 3)``
    uint8 RGB at ``spec.image_size`` (``dataset_images.square``).
    """
    results = [FilterResult(c, w) for c, w in zip(channels, tv_weights, strict=True)]
    requested = frozenset(spec.snapshots)
    last = spec.iterations - 1

    def take_snapshots(iteration: int, images: np.ndarray, activations: np.ndarray) -> None:
        snapshots = _snapshots(program, results, iteration, images, activations)
        keep_snapshots(results, snapshots, requested, last, on_snapshot)

    assert spec.learning_rate is not None, "render_pack takes a resolved spec"
    settings = AscentSettings(
        channels=tuple(channels),
        learning_rates=(spec.learning_rate,) * len(channels),
        tv_weights=tuple(tv_weights),
        iterations=spec.iterations,
        snapshots=requested | {last},
        tv_start=spec.tv_start,
        tv_mode=spec.tv_mode,
        blur_every=spec.blur_every,
        blur_sigma=spec.blur_sigma,
        seed=spec.seed,
        time_budget_s=time_budget_s,
        relu_warmup=spec.relu_warmup,
        revive_dead=spec.dead_start == "revive",
    )
    parameterization = program.parameterization
    if start_image is None:
        start = parameterization.initial(spec.seed, spec.image_size, len(channels))
    else:
        images = as_model_images(start_image[np.newaxis], spec.image_size)
        start = parameterization.from_image(np.repeat(images, len(channels), 0)).numpy()
    dead_starts = DeadStarts()
    optimize(program, start, settings, on_progress, take_snapshots, should_stop, dead_starts)
    for result, dead, alive_at in zip(
        results, dead_starts.dead_at_start, dead_starts.came_alive_at, strict=False
    ):
        result.dead_at_start, result.came_alive_at = dead, alive_at
    return results


def render(
    spec: RenderSpec,
    on_progress: RenderProgress | None = None,
    on_snapshot: RenderSnapshot | None = None,
    should_stop: StopHook | None = None,
) -> RenderResult:
    """Visualise ``spec.filters``, packed into batches of ``spec.batch_size``.

    Raises
    ------
    SpecError
        Before any compute, naming the field at fault.
    Interrupted
        When canceled or out of time; snapshots already delivered stand.
    """
    started = time.monotonic()
    spec, program = prepare(spec)
    prepared = time.monotonic()
    packs = pack_filters(spec.filters, spec.batch_size)
    total = len(packs) * spec.iterations
    results: list[FilterResult] = []
    first_iteration_at: list[float] = []
    for number, pack in enumerate(packs):
        done_before = number * spec.iterations

        def progress(iteration: int, objective: np.ndarray, offset: int = done_before) -> None:
            if not first_iteration_at:
                first_iteration_at.append(time.time())
            if on_progress is not None:
                on_progress(offset + iteration + 1, total, objective)

        budget = None
        if spec.time_budget_s is not None:
            budget = spec.time_budget_s - (time.monotonic() - started)
        results += render_pack(
            spec,
            program,
            pack,
            (spec.tv_weight or 0.0,) * len(pack),
            progress,
            on_snapshot,
            should_stop,
            budget,
        )
    finished = time.monotonic()
    optimise_s = finished - prepared
    timings = {
        "prepare_s": prepared - started,
        "optimise_s": optimise_s,
        "total_s": finished - started,
        "ms_per_filter_iteration": 1000 * optimise_s / (len(spec.filters) * spec.iterations),
        "first_iteration_at": first_iteration_at[0],
    }
    return RenderResult(spec, results, timings)
