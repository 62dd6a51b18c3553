"""A stand-in for the engine's TensorFlow part, for runs with many worker processes (the fleet
chaos run, ``tests/helpers/fleet.py``).

Each iteration sleeps for a fixed step, as a worker waiting on its GPU would, and moves a small
numpy image; snapshots, final images, sheets and GIFs are encoded and stored by the real worker
code. So two dozen workers fit on a small machine (about 100 MB each instead of 650 MB with
TensorFlow, and a restart costs a second of CPU instead of six), and they spend their time in the
service's own code: claims, heartbeats, progress, uploads, hand-backs, counts, the reaper.

Only ``python -m tests.helpers.poison_worker --cheap-engine`` installs it, before the worker
imports the engine; the service has no switch for it.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from types import ModuleType, SimpleNamespace
from typing import Any

import numpy as np

from featviz.catalog import load_catalog
from featviz_engine.errors import EngineError, Interrupted
from featviz_engine.metrics import snapshot_metrics
from featviz_engine.results import FilterResult, Snapshot, keep_snapshots

STEP_S_VARIABLE = "CHEAP_ENGINE_STEP_S"
"""How long each iteration takes, in seconds (default ``DEFAULT_STEP_S``)."""
DEFAULT_STEP_S = 0.05
ENGINE_MODULES = (
    "featviz_engine.render",
    "featviz_engine.spec",
    "featviz_engine.uploaded_models",
    "featviz_engine.devices",
    "featviz_engine.models",
    "featviz_engine.exemplars",
)
"""The engine modules the worker imports that import TensorFlow: each gets a stand-in."""


class CheapSpec(SimpleNamespace):
    """The worker's ``RenderSpec``: the API validated the job, and the worker only reads fields."""


def prepare(spec: CheapSpec, start_image: bool = False) -> tuple[CheapSpec, None]:
    return spec, None


def render_pack(
    spec: CheapSpec,
    program: None,
    channels: Sequence[int],
    tv_weights: Sequence[float],
    on_progress: Callable[[int, np.ndarray], None] | None = None,
    on_snapshot: Callable[[Snapshot], None] | None = None,
    should_stop: Callable[[], bool | str] | None = None,
    time_budget_s: float | None = None,
    start_image: np.ndarray | None = None,
) -> list[FilterResult]:
    """The engine's ``render_pack`` contract (progress every iteration, snapshots as they are
    taken, the stop hook and the time budget checked before each iteration), at the cost of a
    sleep."""
    results = [FilterResult(c, w) for c, w in zip(channels, tv_weights, strict=True)]
    requested, last = frozenset(spec.snapshots), spec.iterations - 1
    step_s = float(os.environ.get(STEP_S_VARIABLE, DEFAULT_STEP_S))
    rng = np.random.default_rng([spec.seed, *channels])
    images = rng.random((len(channels), spec.image_size, spec.image_size, 3))
    if start_image is not None:
        images[:] = start_image / 255.0
    started = time.monotonic()
    for iteration in range(spec.iterations):
        stop = should_stop() if should_stop is not None else False
        if stop:
            raise Interrupted("canceled" if stop is True else stop, iteration - 1)
        if time_budget_s is not None and time.monotonic() - started > time_budget_s:
            raise Interrupted("time_budget", iteration - 1)
        time.sleep(step_s)
        images = 0.9 * images + 0.1 * rng.random(images.shape)
        objective = images.mean(axis=(1, 2, 3))
        if on_progress is not None:
            on_progress(iteration, objective)
        if iteration not in requested and iteration != last:
            continue
        snapshots = [
            Snapshot(
                result.filter,
                result.tv_weight,
                iteration,
                (image * 255).astype(np.uint8),
                snapshot_metrics(image, float(activation), float(activation)),
            )
            for result, image, activation in zip(results, images, objective, strict=True)
        ]
        keep_snapshots(results, snapshots, requested, last, on_snapshot)
    return results


class NoUploadsError(EngineError):
    """The cheap engine runs no uploaded models."""


def no_uploads(*_: Any, **__: Any) -> None:
    raise NoUploadsError("the cheap engine runs no uploaded models")


class NotCheapError(EngineError):
    """What the cheap engine does not do: networks, exemplar shards."""


def not_cheap(*_: Any, **__: Any) -> None:
    raise NotCheapError("the cheap engine builds no network")


def missing_weights(spec: Any, weights: str, include_top: bool = False) -> str | None:
    """The cheap engine "has" random weights only, as a worker without weight files: what it
    publishes as its capabilities (``worker.capabilities``)."""
    return None if weights == "random" and not include_top else "not in the cheap engine"


def available_weights(spec: Any) -> tuple[str, ...]:
    return ("random",)


def _module(name: str, **attributes: Any) -> ModuleType:
    module = ModuleType(name, f"{name}, stood in for by {__name__}")
    vars(module).update(attributes)
    return module


def install() -> None:
    """Put the stand-ins where the worker imports the engine from; call before it does."""
    stand_ins = [
        _module(ENGINE_MODULES[0], prepare=prepare, render_pack=render_pack),
        _module(ENGINE_MODULES[1], RenderSpec=CheapSpec),
        _module(
            ENGINE_MODULES[2],
            ModelRejectedError=NoUploadsError,
            catalogue_file=no_uploads,
            register_uploaded=no_uploads,
        ),
        _module(ENGINE_MODULES[3], gpu_count=lambda: 0, supported_precisions=lambda: ("float32",)),
        _module(
            ENGINE_MODULES[4],
            MODELS=load_catalog().models,
            available_weights=available_weights,
            missing_weights=missing_weights,
            Network=object,
            load_network=not_cheap,
        ),
        _module(
            ENGINE_MODULES[5],
            **dict.fromkeys(
                ("PeakFinder", "TopK", "crop_strip", "marked_strip", "receptive_field"), not_cheap
            ),
        ),
    ]
    for module in stand_ins:
        assert module.__name__ not in sys.modules, f"{module.__name__} was imported already"
        sys.modules[module.__name__] = module
