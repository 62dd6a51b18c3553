"""Method presets: one field that selects a whole optimisation method.

``seed`` is the seed notebook's method (pixel image, normalised gradient, TV denoising), today's
behaviour exactly. ``recommended`` is the method chosen by measurement on the trained VGG16
(``benchmarks/quality.py``, docs/quality.md): a 1/f-scaled Fourier spectrum with decorrelated
colour, the standard transformation robustness, the normalised-gradient step at its spectral
default, and revival of filters dead at the start image. A preset only sets the fields the
user left at their defaults, so any of them can still be chosen by hand.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from featviz_engine.spec import RenderSpec

PresetName = Literal["seed", "recommended"]
PRESETS: tuple[PresetName, ...] = ("seed", "recommended")

DeadStart = Literal["revive", "off"]
DEAD_STARTS: tuple[DeadStart, ...] = ("revive", "off")

PRESET_FIELDS: dict[PresetName, dict[str, Any]] = {
    "seed": {},
    "recommended": {
        "parameterization": "fourier",
        "transforms": "standard",
        "optimizer": "normalized_gradient",
        "dead_start": "revive",
    },
}
"""What each preset sets, by RenderSpec field."""


def preset_fields(spec: RenderSpec) -> dict[str, Any]:
    """The fields ``spec.preset`` sets on ``spec``: those still at their RenderSpec default.

    An unknown preset sets nothing (``spec.check_numbers`` rejects it).
    """
    defaults = {f.name: f.default for f in dataclasses.fields(spec)}
    chosen = PRESET_FIELDS.get(spec.preset, {})
    return {name: value for name, value in chosen.items() if getattr(spec, name) == defaults[name]}
