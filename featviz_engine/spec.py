"""What a render asks for, with the seed's values as defaults, checked before any compute."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from featviz_engine.errors import SpecError
from featviz_engine.models import WEIGHTS, Weights, model_spec
from featviz_engine.tv import TV_MODES, TVMode

SEED_SNAPSHOTS = (5, 10, 50, 100, 200, 500, 750, 1000, 1500, 2000)


@dataclass(frozen=True)
class RenderSpec:
    """One visualisation: which filters of which layer, and how to optimise them.

    The defaults are the seed notebook's denoised run: ResNet50V2 with ImageNet weights, layer
    ``conv5_block1_out``, filter 1, 2001 iterations, learning rate 2.0, TV weight 0.0005 from
    iteration 50, 224 px, snapshots at its ten iterations.
    """

    model: str = "resnet50v2"
    weights: Weights = "imagenet"
    layer: str = "conv5_block1_out"
    filters: tuple[int, ...] = (1,)
    iterations: int = 2001
    snapshots: tuple[int, ...] = SEED_SNAPSHOTS
    learning_rate: float = 2.0
    tv_weight: float = 0.0005
    tv_start: int = 50
    tv_mode: TVMode = "seed"
    image_size: int = 224
    seed: int = 0
    batch_size: int = 16
    time_budget_s: float | None = field(default=None, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _require(condition: bool, field_name: str, message: str) -> None:
    if not condition:
        raise SpecError(field_name, message)


def _finite(value: float) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def check_numbers(spec: RenderSpec) -> None:
    """Checks that need no model: ranges, finiteness, snapshot positions.

    Raises
    ------
    SpecError
        Naming the first field at fault.
    """
    model_spec(spec.model)
    _require(spec.weights in WEIGHTS, "weights", f"must be one of {WEIGHTS}")
    _require(bool(spec.layer), "layer", "must not be empty")
    _require(len(spec.filters) > 0, "filters", "needs at least one filter index")
    _require(all(f >= 0 for f in spec.filters), "filters", "filter indices must be >= 0")
    _require(spec.iterations >= 1, "iterations", "must be >= 1")
    _require(all(s >= 0 for s in spec.snapshots), "snapshots", "iterations must be >= 0")
    _require(
        all(s < spec.iterations for s in spec.snapshots),
        "snapshots",
        f"every snapshot must be < iterations ({spec.iterations}); iterations count from 0",
    )
    _require(
        _finite(spec.learning_rate) and spec.learning_rate > 0,
        "learning_rate",
        "must be a finite number > 0",
    )
    _require(_finite(spec.tv_weight) and spec.tv_weight >= 0, "tv_weight", "must be finite, >= 0")
    _require(spec.tv_start >= 0, "tv_start", "must be >= 0")
    _require(spec.tv_mode in TV_MODES, "tv_mode", f"must be one of {TV_MODES}")
    minimum = model_spec(spec.model).min_input_size
    _require(spec.image_size >= minimum, "image_size", f"must be >= {minimum} for {spec.model}")
    _require(spec.seed >= 0, "seed", "must be >= 0")
    _require(spec.batch_size >= 1, "batch_size", "must be >= 1")
    _require(
        spec.time_budget_s is None or (_finite(spec.time_budget_s) and spec.time_budget_s > 0),
        "time_budget_s",
        "must be a finite number > 0",
    )
