"""Dead starts: detected per image, revived by default, the seed's path untouched for the rest."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
import tensorflow as tf

from featviz_engine.ascent import Design
from featviz_engine.images import MARK_COLOUR, contact_sheet
from featviz_engine.objectives import Context
from featviz_engine.parameterizations import ParameterizationName
from featviz_engine.render import prepare, render
from featviz_engine.spec import RenderSpec
from featviz_engine.trained_weights import HED_BSDS500

DEAD_FILTER = 0
"""block2_conv2 filter 0 of the trained VGG16 is 0 over the whole map at the seed's 64 px start."""
LIVE_FILTER = 1

SPEC = RenderSpec(
    model="vgg16",
    weights=HED_BSDS500,
    layer="block2_conv2",
    filters=(DEAD_FILTER, LIVE_FILTER),
    image_size=64,
    iterations=8,
    snapshots=(),
    tv_weight=0.0,
)


def test_a_filter_dead_at_the_start_comes_alive_and_a_live_one_keeps_the_seed_path() -> None:
    revived_dead, revived_live = render(SPEC).filters
    plain_dead, plain_live = render(replace(SPEC, dead_start="off")).filters
    assert revived_dead.final is not None
    assert plain_dead.final is not None
    assert revived_live.final is not None
    assert plain_live.final is not None

    assert revived_dead.dead_at_start
    assert revived_dead.came_alive_at is not None
    assert not revived_dead.never_alive
    assert plain_dead.final.metrics["activation"] == 0.0
    assert revived_dead.final.metrics["activation"] > 0.0

    assert not revived_live.dead_at_start
    assert revived_live.came_alive_at is None
    np.testing.assert_array_equal(revived_live.final.rgb, plain_live.final.rgb)
    assert revived_live.final.metrics == plain_live.final.metrics


HARD_FILTER = 4
"""block2_conv2 filter 4: dead at every start tried, awake only where most of block2_conv1's
channels are off and a few on, a pattern in its 16 px receptive field."""


@pytest.mark.parametrize(
    ("changes", "iterations"),
    [({"tv_weight": 0.0005}, 120), ({"preset": "recommended"}, 192)],
    ids=["seed pixels", "recommended spectrum"],
)
def test_a_filter_that_wakes_only_for_one_small_pattern_comes_alive(
    changes: dict[str, Any], iterations: int
) -> None:
    # The job's own step (seed: L2-normalised pixels; recommended: the spectrum's) does not wake
    # it in these iterations; the climb on the pixels from the 32nd revival step on does (the seed's
    # pixels near iteration 87, their climb kept inside the picture's crop; flickering before).
    spec = replace(SPEC, filters=(HARD_FILTER,), iterations=iterations, **changes)
    (hard,) = render(spec).filters
    assert hard.final is not None
    assert hard.dead_at_start
    assert hard.came_alive_at is not None
    assert hard.final.metrics["activation"] > 0.0


SPECTRUM_STUBBORN_FILTER = 4
"""block3_conv3 filter 4: with the recommended preset at 64 px, sign steps on its spectrum's
image left it dead after 192 iterations; its own climb (``ascent.SPECTRUM_CLIMB``) wakes it at
iteration 131."""


def test_a_stubborn_spectrum_climbs_its_pixels_until_the_filter_wakes() -> None:
    spec = replace(
        SPEC,
        layer="block3_conv3",
        filters=(SPECTRUM_STUBBORN_FILTER,),
        iterations=192,
        preset="recommended",
    )
    (stubborn,) = render(spec).filters
    assert stubborn.final is not None
    assert stubborn.dead_at_start
    assert stubborn.came_alive_at is not None
    assert stubborn.final.metrics["activation"] > 0.0
    assert stubborn.final.metrics["displayed_activation"] > 0.0


@pytest.mark.parametrize(
    ("parameterization", "peak_counts"),
    [("pixel", False), ("fourier", True)],
    ids=["seed pixels, cropped for display", "spectrum, shown whole"],
)
def test_revival_climbs_where_the_picture_shows_the_filter(
    parameterization: ParameterizationName, peak_counts: bool
) -> None:
    # A 128 px picture of the seed's pixels leaves out 14 px a side: 4 positions of a 32 map.
    design = Design(
        "vgg16", "random", "block3_conv3", parameterization=parameterization, image_size=128
    )
    pre = np.full((1, 32, 32, 1), -5.0, np.float32)
    pre[0, 3, 16, 0] = 5.0  # inside the objective's 2-position border, outside the picture
    context = Context(tf.constant(pre), None, tf.constant([0]), tf.zeros([1, 128, 128, 3]))
    peak = float(design.revival_objective()(context)[0])
    interior, visible = 28 * 28, 24 * 24
    if peak_counts:
        expected = np.log((interior - 1) * np.exp(-5.0) + np.exp(5.0))
    else:
        expected = np.log(visible * np.exp(-5.0))
    assert peak == pytest.approx(expected, rel=1e-5)


def network_passes(spec: RenderSpec, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How often ``render(spec)`` called each of its program's traced network passes."""
    _spec, program = prepare(spec)
    calls = {"dead": 0, "step": 0, "revival_step": 0}

    def counted(name: str) -> Callable[..., Any]:
        traced = getattr(program, name)

        def call(*arguments: Any) -> Any:
            calls[name] += 1
            return traced(*arguments)

        return call

    for name in calls:
        monkeypatch.setattr(program, name, counted(name))
    render(spec)
    return calls


def test_a_batch_with_a_dead_start_takes_one_network_pass_per_iteration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Revival replaces the ordinary step for such a batch: it is not a second step on top.
    The one pass more is the first ordinary step, which finds the dead start (no separate
    check), and is replaced by a revival step from the same start."""
    calls = network_passes(SPEC, monkeypatch)
    assert calls == {"dead": 0, "step": 1, "revival_step": SPEC.iterations}


def test_a_live_batch_takes_its_steps_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Its first step tells that no image is dead: no pass of its own (a cold start's cost)."""
    live = replace(SPEC, filters=(LIVE_FILTER,), iterations=2)
    assert network_passes(live, monkeypatch) == {"dead": 0, "step": 2, "revival_step": 0}


def test_without_revival_nothing_is_recorded() -> None:
    dead, live = render(replace(SPEC, dead_start="off", iterations=1)).filters
    assert not dead.dead_at_start
    assert not live.dead_at_start


def test_a_contact_sheet_marks_the_tiles_it_is_told_to() -> None:
    tiles = [np.full((20, 20, 3), 128, np.uint8) for _ in range(2)]
    sheet = contact_sheet(tiles, ["alive", "never alive"], marked=[False, True])
    red = np.all(sheet == MARK_COLOUR, axis=-1)
    half = sheet.shape[1] // 2
    assert red[:, half:].sum() > 40
    assert red[:, :half].sum() == 0
