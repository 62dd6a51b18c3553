"""What a render asks for, with the seed's values as defaults, checked before any compute."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from featviz.fields import (
    JobFields,
    default_learning_rate,
    default_tv_weight,
    late_snapshots,
    pixel_only,
    preset_values,
)
from featviz.presets import DEAD_STARTS, PRESETS, DeadStart, PresetName
from featviz_engine.errors import SpecError
from featviz_engine.models import PRECISIONS, WEIGHTS, Precision, Weights, is_registered, model_spec
from featviz_engine.objectives import TERMS
from featviz_engine.optimizers import OPTIMIZERS, OptimizerName
from featviz_engine.parameterizations import PARAMETERIZATIONS, ParameterizationName
from featviz_engine.transforms import (
    TRANSFORM_PRESETS,
    TRANSFORMS,
    TransformSettings,
    TransformsName,
)
from featviz_engine.tv import TV_MODES, TVMode


@dataclass(frozen=True)
class RenderSpec:
    """One visualisation: which filters of which layer, and how to optimise them.

    The defaults are the table's (featviz.fields: the seed notebook's denoised run).
    ``learning_rate`` and ``tv_weight`` left at None take the optimiser's and the
    parameterisation's defaults (``featviz.fields.default_learning_rate``, ``default_tv_weight``).
    The ``transform_*`` knobs left at None take the ``transforms`` preset's values.
    ``relu_warmup`` > 0 steps through ReLUs whose gradient is redirected (Lucid) for that many
    first iterations, so that a filter dead at the start image gets a direction to move in.
    ``dead_start`` ``"revive"`` gives only the images dead at their start such steps, until they
    are alive (``featviz_engine.ascent.optimize``); ``"off"`` is the seed's path for every image.
    ``preset`` ``"recommended"`` sets the method fields left at their defaults
    (``featviz.presets``).
    """

    model: str = JobFields.model.engine_value
    weights: Weights = JobFields.weights.engine_value
    layer: str = JobFields.layer.engine_value
    filters: tuple[int, ...] = JobFields.filters.engine_value
    iterations: int = JobFields.iterations.engine_value
    snapshots: tuple[int, ...] = JobFields.snapshots.engine_value
    learning_rate: float | None = JobFields.learning_rate.engine_value
    tv_weight: float | None = JobFields.tv_weight.engine_value
    tv_start: int = JobFields.tv_start.engine_value
    tv_mode: TVMode = JobFields.tv_mode.engine_value
    image_size: int = JobFields.image_size.engine_value
    seed: int = JobFields.seed.engine_value
    batch_size: int = JobFields.batch_size.engine_value
    precision: Precision = JobFields.precision.engine_value
    objective: tuple[tuple[str, float], ...] = JobFields.objective.engine_value
    direction: tuple[float, ...] | None = JobFields.direction.engine_value
    diversity_weight: float = JobFields.diversity_weight.engine_value
    l1_weight: float = JobFields.l1_weight.engine_value
    l2_weight: float = JobFields.l2_weight.engine_value
    start_image_weight: float = JobFields.start_image_weight.engine_value
    parameterization: ParameterizationName = JobFields.parameterization.engine_value
    spectrum_decay: float = JobFields.spectrum_decay.engine_value
    transforms: TransformsName = JobFields.transforms.engine_value
    transform_pad: int | None = JobFields.transform_pad.engine_value
    transform_jitter: int | None = JobFields.transform_jitter.engine_value
    transform_scale: float | None = JobFields.transform_scale.engine_value
    transform_rotate: float | None = JobFields.transform_rotate.engine_value
    optimizer: OptimizerName = JobFields.optimizer.engine_value
    blur_every: int = JobFields.blur_every.engine_value
    blur_sigma: float = JobFields.blur_sigma.engine_value
    relu_warmup: int = JobFields.relu_warmup.engine_value
    dead_start: DeadStart = JobFields.dead_start.engine_value
    preset: PresetName = JobFields.preset.engine_value
    time_budget_s: float | None = field(default=JobFields.time_budget_s.engine_value, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def resolved(self) -> RenderSpec:
        """The spec with its preset applied and every None default replaced by the value it
        stands for."""
        self = replace(self, **preset_values(self.preset, asdict(self)))
        learning_rate = self.learning_rate
        if learning_rate is None:
            learning_rate = default_learning_rate(self.optimizer, self.parameterization)
        tv_weight = self.tv_weight
        if tv_weight is None:
            tv_weight = default_tv_weight(self.parameterization)
        return replace(self, learning_rate=learning_rate, tv_weight=tv_weight)

    def transform_settings(self) -> TransformSettings:
        preset = TRANSFORM_PRESETS.get(self.transforms, TransformSettings())

        def knob(value: Any, default: Any) -> Any:
            return default if value is None else value

        return TransformSettings(
            pad=knob(self.transform_pad, preset.pad),
            jitter=knob(self.transform_jitter, preset.jitter),
            scale=knob(self.transform_scale, preset.scale),
            rotate=knob(self.transform_rotate, preset.rotate),
            final_jitter=preset.final_jitter,
        )


_BOUNDED = [
    job_field
    for job_field in JobFields.of_engine()
    if job_field.value in ("int", "float")
    and (job_field.ge, job_field.gt) != (None, None)
    # The model sets the smallest image; the transform knobs are checked as the preset sets them.
    and job_field.name != "image_size"
    and not job_field.name.startswith("transform_")
]
"""The fields whose lower bound (and finiteness) the engine checks as the table sets it."""


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
    for job_field in _BOUNDED:
        problem = job_field.below_minimum(getattr(spec, job_field.name))
        _require(problem is None, job_field.name, problem or "")
    _require(all(s >= 0 for s in spec.snapshots), "snapshots", "iterations must be >= 0")
    _require(
        all(s < spec.iterations for s in spec.snapshots),
        "snapshots",
        late_snapshots(spec.iterations),
    )
    _require(spec.optimizer in OPTIMIZERS, "optimizer", f"must be one of {OPTIMIZERS}")
    _require(spec.tv_mode in TV_MODES, "tv_mode", f"must be one of {TV_MODES}")
    _require(spec.image_size >= minimum, "image_size", f"must be >= {minimum} for {spec.model}")
    _require(spec.precision in PRECISIONS, "precision", f"must be one of {PRECISIONS}")
    _check_objective(spec)
    _check_method(spec)


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
        pixel_only("TV denoising", spec.parameterization),
    )
    _require(
        pixel or spec.blur_every == 0, "blur_every", pixel_only("blurring", spec.parameterization)
    )
    _require(spec.preset in PRESETS, "preset", f"must be one of {PRESETS}")
    _require(spec.dead_start in DEAD_STARTS, "dead_start", f"must be one of {DEAD_STARTS}")
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
