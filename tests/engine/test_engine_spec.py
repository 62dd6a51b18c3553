"""Bad input is refused before any compute, with the field at fault named."""

from __future__ import annotations

import math

import pytest

from featviz_engine import ascent
from featviz_engine.errors import SpecError
from featviz_engine.render import prepare, render
from featviz_engine.spec import RenderSpec

VALID: dict[str, object] = {
    "weights": "random",
    "layer": "conv3_block1_out",
    "filters": (1,),
    "iterations": 10,
    "snapshots": (5,),
    "image_size": 64,
}

BAD_FIELDS = [
    ("model", {"model": "resnet9000"}, "unknown model"),
    ("weights", {"weights": "noisy"}, "must be one of"),
    ("layer", {"layer": "conv9_block9_out"}, "no layer"),
    ("layer", {"layer": "avg_pool_missing"}, "no layer"),
    ("filters", {"filters": (512,)}, "has 512 channels"),
    ("filters", {"filters": (1, 9999)}, "9999"),
    ("filters", {"filters": (-1,)}, ">= 0"),
    ("filters", {"filters": ()}, "at least one"),
    ("snapshots", {"snapshots": (10,)}, "< iterations"),
    ("snapshots", {"snapshots": (-3,)}, ">= 0"),
    ("iterations", {"iterations": 0}, ">= 1"),
    ("learning_rate", {"learning_rate": -2.0}, "> 0"),
    ("learning_rate", {"learning_rate": math.nan}, "finite"),
    ("learning_rate", {"learning_rate": math.inf}, "finite"),
    ("tv_weight", {"tv_weight": -0.1}, ">= 0"),
    ("tv_weight", {"tv_weight": math.nan}, "finite"),
    ("tv_start", {"tv_start": -1}, ">= 0"),
    ("tv_mode", {"tv_mode": "isotropic"}, "must be one of"),
    ("image_size", {"image_size": 16}, ">= 32"),
    ("image_size", {"image_size": 32, "layer": "conv5_block1_out"}, "activation map"),
    ("seed", {"seed": -5}, ">= 0"),
    ("batch_size", {"batch_size": 0}, ">= 1"),
    ("time_budget_s", {"time_budget_s": -1.0}, "> 0"),
]


@pytest.mark.parametrize(("field", "change", "message"), BAD_FIELDS)
def test_bad_field_is_named_before_any_compute(
    field: str, change: dict[str, object], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_compute(*args: object, **kwargs: object) -> None:
        raise AssertionError("optimisation started despite an invalid spec")

    monkeypatch.setattr(ascent, "optimize", no_compute)
    monkeypatch.setattr("featviz_engine.render.optimize", no_compute)
    spec = RenderSpec(**{**VALID, **change})  # type: ignore[arg-type]
    with pytest.raises(SpecError) as error:
        render(spec)
    assert error.value.field == field
    assert message in error.value.message


def test_valid_spec_passes() -> None:
    spec, program = prepare(RenderSpec(**VALID))  # type: ignore[arg-type]
    assert program.map_size(64) == (8, 8)
    assert spec.learning_rate == 2.0  # the seed's, resolved from the optimiser's default
    assert spec.tv_weight == 0.0005
