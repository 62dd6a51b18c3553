"""What a render asks for, with the seed's values as defaults, checked before any compute."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from featviz_engine.errors import SpecError
from featviz_engine.models import PRECISIONS, WEIGHTS, Precision, Weights, is_registered, model_spec
from featviz_engine.objectives import TERMS
from featviz_engine.optimizers import DEFAULT_LEARNING_RATES, OPTIMIZERS, OptimizerName
from featviz_engine.parameterizations import PARAMETERIZATIONS, ParameterizationName
from featviz_engine.presets import DEAD_STARTS, DeadStart, PresetName, preset_fields
from featviz_engine.presets import PRESETS as METHOD_PRESETS
from featviz_engine.transforms import PRESETS, TRANSFORMS, TransformSettings, TransformsName
from featviz_engine.tv import TV_MODES, TVMode

SEED_SNAPSHOTS = (5, 10, 50, 100, 200, 500, 750, 1000, 1500, 2000)
SEED_TV_WEIGHT = 0.0005
SPECTRAL_NORMALIZED_GRADIENT_RATE = 1.0
"""The normalised-gradient step's default on a spectrum (Fourier, MaCo): at the seed's 2.0 the
squashed image saturates early and its square-wave edges add high frequencies (docs/quality.md)."""


@dataclass(frozen=True)
class RenderSpec:
    """One visualisation: which filters of which layer, and how to optimise them.

    The defaults are the seed notebook's denoised run: ResNet50V2 with ImageNet weights, layer
    ``conv5_block1_out``, filter 1, 2001 iterations, the normalised-gradient step with learning
    rate 2.0 on pixels, TV weight 0.0005 from iteration 50, 224 px, snapshots at its ten
    iterations. ``learning_rate`` and ``tv_weight`` left at None take the optimiser's and the
    parameterisation's defaults (2.0 and 0.0005 for the seed's; 1.0 for the normalised gradient on
    a spectrum; 0.05 for Adam; no TV off pixels).
    The ``transform_*`` knobs left at None take the ``transforms`` preset's values.
    ``relu_warmup`` > 0 steps through ReLUs whose gradient is redirected (Lucid) for that many
    first iterations, so that a filter dead at the start image gets a direction to move in.
    ``dead_start`` ``"revive"`` gives only the images dead at their start such steps, until they
    are alive (``featviz_engine.ascent.optimize``); ``"off"`` is the seed's path for every image.
    ``preset`` ``"recommended"`` sets the method fields left at their defaults
    (``featviz_engine.presets``).
    """

    model: str = "resnet50v2"
    weights: Weights = "imagenet"
    layer: str = "conv5_block1_out"
    filters: tuple[int, ...] = (1,)
    iterations: int = 2001
    snapshots: tuple[int, ...] = SEED_SNAPSHOTS
    learning_rate: float | None = None
    tv_weight: float | None = None
    tv_start: int = 50
    tv_mode: TVMode = "seed"
    image_size: int = 224
    seed: int = 0
    batch_size: int = 16
    precision: Precision = "float32"
    objective: tuple[tuple[str, float], ...] = (("channel", 1.0),)
    direction: tuple[float, ...] | None = None
    diversity_weight: float = 0.0
    l1_weight: float = 0.0
    l2_weight: float = 0.0
    parameterization: ParameterizationName = "pixel"
    transforms: TransformsName = "none"
    transform_pad: int | None = None
    transform_jitter: int | None = None
    transform_scale: float | None = None
    transform_rotate: float | None = None
    optimizer: OptimizerName = "normalized_gradient"
    blur_every: int = 0
    blur_sigma: float = 0.5
    relu_warmup: int = 0
    dead_start: DeadStart = "revive"
    preset: PresetName = "seed"
    time_budget_s: float | None = field(default=None, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def resolved(self) -> RenderSpec:
        """The spec with its preset applied and every None default replaced by the value it
        stands for."""
        self = replace(self, **preset_fields(self))
        learning_rate = self.learning_rate
        if learning_rate is None and self.optimizer in DEFAULT_LEARNING_RATES:
            learning_rate = DEFAULT_LEARNING_RATES[self.optimizer]
            if self.optimizer == "normalized_gradient" and self.parameterization != "pixel":
                learning_rate = SPECTRAL_NORMALIZED_GRADIENT_RATE
        tv_weight = self.tv_weight
        if tv_weight is None:
            tv_weight = SEED_TV_WEIGHT if self.parameterization == "pixel" else 0.0
        return replace(self, learning_rate=learning_rate, tv_weight=tv_weight)

    def transform_settings(self) -> TransformSettings:
        preset = PRESETS.get(self.transforms, TransformSettings())

        def knob(value: Any, default: Any) -> Any:
            return default if value is None else value

        return TransformSettings(
            pad=knob(self.transform_pad, preset.pad),
            jitter=knob(self.transform_jitter, preset.jitter),
            scale=knob(self.transform_scale, preset.scale),
            rotate=knob(self.transform_rotate, preset.rotate),
            final_jitter=preset.final_jitter,
        )


def _require(condition: bool, field_name: str, message: str) -> None:
    if not condition:
        raise SpecError(field_name, message)


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def _non_negative(value: object) -> bool:
    return _finite(value) and value >= 0  # type: ignore[operator]


def check_numbers(spec: RenderSpec) -> None:
    """Checks that need no model: names, ranges, finiteness, snapshot positions.

    ``spec`` must be ``resolved()``.

    Raises
    ------
    SpecError
        Naming the first field at fault.
    """
    registered = is_registered(spec.model)
    minimum = 8 if registered else model_spec(spec.model).min_input_size
    _require(registered or spec.weights in WEIGHTS, "weights", f"must be one of {WEIGHTS}")
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
    _require(spec.optimizer in OPTIMIZERS, "optimizer", f"must be one of {OPTIMIZERS}")
    _require(
        _finite(spec.learning_rate) and spec.learning_rate > 0,  # type: ignore[operator]
        "learning_rate",
        "must be a finite number > 0",
    )
    _require(_non_negative(spec.tv_weight), "tv_weight", "must be a finite number >= 0")
    _require(spec.tv_start >= 0, "tv_start", "must be >= 0")
    _require(spec.tv_mode in TV_MODES, "tv_mode", f"must be one of {TV_MODES}")
    _require(spec.image_size >= minimum, "image_size", f"must be >= {minimum} for {spec.model}")
    _require(spec.seed >= 0, "seed", "must be >= 0")
    _require(spec.batch_size >= 1, "batch_size", "must be >= 1")
    _require(spec.precision in PRECISIONS, "precision", f"must be one of {PRECISIONS}")
    _check_objective(spec)
    _check_method(spec)
    _require(
        spec.time_budget_s is None or (_finite(spec.time_budget_s) and spec.time_budget_s > 0),
        "time_budget_s",
        "must be a finite number > 0",
    )


def _check_objective(spec: RenderSpec) -> None:
    _require(
        len(spec.objective) > 0 or spec.direction is not None,
        "objective",
        "needs at least one term",
    )
    for kind, weight in spec.objective:
        _require(kind in TERMS, "objective", f"unknown kind {kind!r}; known: {', '.join(TERMS)}")
        _require(_finite(weight), "objective", f"the weight of {kind!r} must be finite")
    if spec.direction is not None:
        _require(
            all(_finite(v) for v in spec.direction) and any(v != 0 for v in spec.direction),
            "direction",
            "must be finite and not all zero",
        )
    for name in ("diversity_weight", "l1_weight", "l2_weight"):
        _require(_non_negative(getattr(spec, name)), name, "must be a finite number >= 0")


def _check_method(spec: RenderSpec) -> None:
    _require(
        spec.parameterization in PARAMETERIZATIONS,
        "parameterization",
        f"must be one of {PARAMETERIZATIONS}",
    )
    pixel = spec.parameterization == "pixel"
    _require(
        pixel or spec.tv_weight == 0,
        "tv_weight",
        "TV denoising acts on pixel images; use 0 with the "
        f"{spec.parameterization} parameterization",
    )
    _require(spec.blur_every >= 0, "blur_every", "must be >= 0")
    _require(spec.relu_warmup >= 0, "relu_warmup", "must be >= 0")
    _require(spec.preset in METHOD_PRESETS, "preset", f"must be one of {METHOD_PRESETS}")
    _require(spec.dead_start in DEAD_STARTS, "dead_start", f"must be one of {DEAD_STARTS}")
    _require(pixel or spec.blur_every == 0, "blur_every", "blurring acts on pixel images only")
    _require(_finite(spec.blur_sigma) and spec.blur_sigma > 0, "blur_sigma", "must be finite, > 0")
    _require(spec.transforms in TRANSFORMS, "transforms", f"must be one of {TRANSFORMS}")
    settings = spec.transform_settings()
    for name in ("pad", "jitter", "scale", "rotate"):
        _require(
            _non_negative(getattr(settings, name)),
            f"transform_{name}",
            "must be a finite number >= 0",
        )
    _require(
        settings.output_size(spec.image_size) >= 8,
        "transform_jitter",
        "the jitter leaves too small an image",
    )
