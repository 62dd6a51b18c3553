"""Adam on a spectrum climbs on the trained VGG16, for a live start and for a revived dead one.

On the trained network the Fourier start (a spectrum of std 0.01: a nearly flat grey image) is
dead for most filters, so Adam had a zero gradient and kept it; shown through the seed's
deprocessing, that start's faint noise was stretched into the "brown mush". Revival and the
display per method fix it; these tests hold the result.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from featviz_engine.render import prepare, render
from featviz_engine.spec import RenderSpec
from featviz_engine.trained_weights import HED_BSDS500

LIVE_AT_FOURIER_START = 12
"""block3_conv3 filter 12 is alive at the 64 px Fourier start (tests/test_engine_display.py)."""

SPEC = RenderSpec(
    model="vgg16",
    weights=HED_BSDS500,
    layer="block3_conv3",
    filters=(0, LIVE_AT_FOURIER_START),
    image_size=64,
    iterations=16,
    snapshots=(),
    parameterization="fourier",
    transforms="standard",
    optimizer="adam",
    batch_size=2,
)


def start_activations(spec: RenderSpec) -> np.ndarray:
    spec, program = prepare(spec)
    start = program.parameterization.initial(spec.seed, spec.image_size, len(spec.filters))
    values: np.ndarray = program.activation(
        tf.constant(start), tf.constant(spec.filters, tf.int32)
    ).numpy()
    return values


def test_adam_on_a_spectrum_rises_far_above_its_start_as_optimised_and_as_displayed() -> None:
    start = start_activations(SPEC)
    dead, live = render(SPEC).filters
    assert start[0] == 0.0
    assert dead.dead_at_start
    assert not live.dead_at_start
    assert dead.came_alive_at is not None
    assert dead.final is not None
    assert dead.final.metrics["displayed_activation"] > 0.0
    assert live.final is not None
    metrics = live.final.metrics
    assert metrics["activation"] > max(10 * start[1], 1.0)
    assert metrics["displayed_activation"] > 0.9 * metrics["activation"]
