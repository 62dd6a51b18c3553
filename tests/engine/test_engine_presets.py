"""Method presets: ``seed`` changes nothing, ``recommended`` sets only what the user left unset."""

from __future__ import annotations

import dataclasses

import pytest

from featviz.fields import preset_values
from featviz.presets import PRESET_FIELDS, PRESETS
from featviz_engine.errors import SpecError
from featviz_engine.render import prepare
from featviz_engine.spec import RenderSpec


def test_the_seed_preset_is_the_default_and_changes_nothing() -> None:
    assert RenderSpec().preset == "seed"
    for spec in (RenderSpec(), RenderSpec(optimizer="adam", parameterization="fourier")):
        assert preset_values(spec.preset, {}) == {}
        assert spec.resolved() == dataclasses.replace(spec, preset="seed").resolved()
    resolved = RenderSpec().resolved()
    assert (resolved.parameterization, resolved.learning_rate, resolved.tv_weight) == (
        "pixel",
        2.0,
        0.0005,
    )


def test_recommended_sets_its_method_and_the_defaults_that_follow_from_it() -> None:
    resolved = RenderSpec(preset="recommended").resolved()
    for name, value in PRESET_FIELDS["recommended"].items():
        assert getattr(resolved, name) == value
    assert resolved.parameterization != "pixel"
    assert resolved.tv_weight == 0.0  # TV acts on pixels only
    assert resolved.dead_start == "revive"


def test_recommended_shows_the_network_an_image_of_the_optimised_size() -> None:
    """Its pad is used up by the jitters: the transforms cost no extra pixels."""
    settings = RenderSpec(preset="recommended").resolved().transform_settings()
    assert settings.active
    assert settings.output_size(128) == 128


def test_recommended_leaves_the_fields_the_user_set() -> None:
    spec = RenderSpec(
        preset="recommended", parameterization="magnitude_constrained", learning_rate=0.3
    )
    resolved = spec.resolved()
    assert resolved.parameterization == "magnitude_constrained"
    assert resolved.learning_rate == 0.3
    assert resolved.transforms == PRESET_FIELDS["recommended"]["transforms"]


def test_every_preset_sets_only_render_spec_fields() -> None:
    names = {f.name for f in dataclasses.fields(RenderSpec)}
    assert set(PRESET_FIELDS) == set(PRESETS)
    for fields in PRESET_FIELDS.values():
        assert set(fields) <= names


@pytest.mark.parametrize(("name", "value"), [("preset", "fancy"), ("dead_start", "maybe")])
def test_an_unknown_preset_or_dead_start_is_refused_naming_the_field(name: str, value: str) -> None:
    valid = RenderSpec(weights="random", layer="conv3_block1_out", image_size=64)
    spec = dataclasses.replace(valid, **{name: value})  # type: ignore[arg-type]
    with pytest.raises(SpecError) as raised:
        prepare(spec)
    assert raised.value.field == name
