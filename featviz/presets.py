"""Method presets: one field that selects a whole optimisation method.

``seed`` is the seed notebook's method (pixel image, normalised gradient, TV denoising), today's
behaviour exactly. ``recommended`` is the method chosen by measurement on the trained VGG16
(``benchmarks/quality.py --trained``, docs/quality.md): a 1/f-scaled Fourier spectrum with
decorrelated colour, the standard transformation robustness, the normalised-gradient step at its
spectral default, and revival of filters dead at the start image. A preset only sets the fields
the user left unset (absent, or at its default: the API and the engine judge alike), so any of
them can still be chosen by hand.

Standard library only: the API applies presets before it resolves the method's defaults (so
records hold the values a job really runs with), and the engine applies the same table.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

PresetName = Literal["seed", "recommended"]
PRESETS: tuple[PresetName, ...] = ("seed", "recommended")

DeadStart = Literal["revive", "off"]
DEAD_STARTS: tuple[DeadStart, ...] = ("revive", "off")

PRESET_FIELDS: dict[str, dict[str, Any]] = {
    "seed": {},
    "recommended": {
        "parameterization": "fourier",
        "transforms": "standard",
        "optimizer": "normalized_gradient",
        "dead_start": "revive",
    },
}
"""What each preset sets, by job field."""


def preset_fields(preset: str, unset: Callable[[str], bool]) -> dict[str, Any]:
    """The fields ``preset`` sets: those for which ``unset(name)`` holds.

    An unknown preset sets nothing (the spec's own check refuses it, naming ``preset``).
    """
    chosen = PRESET_FIELDS.get(preset, {})
    return {name: value for name, value in chosen.items() if unset(name)}
