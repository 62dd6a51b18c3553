"""Method presets: one field that selects a whole optimisation method.

``seed`` is the seed notebook's method (pixel image, normalised gradient, TV denoising), today's
behaviour exactly. ``recommended`` is the method chosen by measurement on the trained VGG16
(``benchmarks/quality.py --trained``, docs/quality.md): a Fourier spectrum scaled by 1/f^1.1
with decorrelated colour, the standard transformation robustness (with a 6 px pad), the
normalised-gradient step at learning rate 2.0, and revival of filters dead at the start image.
A preset only sets the fields the user left unset (absent, or at its default: the API and the
engine judge alike), so any of them can still be chosen by hand.

Standard library only: the API applies presets before it resolves the method's defaults (so
records hold the values a job really runs with), and the engine applies the same table, both
through ``featviz.fields.preset_values``.
"""

from __future__ import annotations

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
        # The two jitters (8 + 4 px) use up a 6 px pad, so the network sees an image of the
        # optimised size: the standard pad of 12 costs 1.2x the pixels and measured no better.
        "transform_pad": 6,
        "optimizer": "normalized_gradient",
        # A spectrum falling a little faster than 1/f, with a step large enough to keep the
        # activation: block2_conv2 (8 filters, 256 iterations) displayed activation 247 and HF
        # fraction 0.107, where 1/f at rate 1.5 gave 248 and 0.130; 1.12 at 2.5 gave 231 and
        # 0.077, 1.2 at 2.5 lost a filter and the fine hatching of filter 14 (docs/quality.md).
        "spectrum_decay": 1.1,
        "learning_rate": 2.0,
        "dead_start": "revive",
    },
}
"""What each preset sets, by job field."""
