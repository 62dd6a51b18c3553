"""The ReLU warm-up: a filter that is dead at the start image still gets a gradient."""

from __future__ import annotations

from dataclasses import replace

import keras
import numpy as np
import tensorflow as tf

from featviz_engine.models import redirected_relu, register_network
from featviz_engine.render import render
from featviz_engine.spec import RenderSpec

DEAD_MODEL = "dead_filter"


def test_redirected_relu_passes_gradients_that_would_switch_a_unit_on() -> None:
    x = tf.constant([-1.0, -1.0, 2.0, 2.0])
    upstream = tf.constant([1.0, -1.0, 1.0, -1.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = redirected_relu(x)
    np.testing.assert_array_equal(y.numpy(), [0.0, 0.0, 2.0, 2.0])
    np.testing.assert_array_equal(tape.gradient(y, x, upstream).numpy(), [1.0, 0.0, 1.0, -1.0])


def dead_filter_spec() -> RenderSpec:
    """One ReLU unit summing the colour channels minus 10: off for every image in [-1, 1]."""
    inputs = keras.Input((None, None, 3))
    outputs = keras.layers.Conv2D(
        1,
        1,
        activation="relu",
        kernel_initializer="ones",
        bias_initializer=keras.initializers.Constant(-10.0),
        name="dead",
    )(inputs)
    register_network(DEAD_MODEL, keras.Model(inputs, outputs), tf.identity)
    return RenderSpec(
        model=DEAD_MODEL,
        layer="dead",
        filters=(0,),
        image_size=16,
        iterations=60,
        snapshots=(),
        tv_weight=0.0,
    )


def test_warmup_wakes_a_dead_filter_that_the_seed_step_leaves_dead() -> None:
    spec = dead_filter_spec()
    plain = render(spec).filters[0].final
    warmed = render(replace(spec, relu_warmup=50)).filters[0].final
    assert plain is not None
    assert warmed is not None
    assert plain.metrics["activation"] == 0.0
    assert warmed.metrics["activation"] > 0.0


def test_forgetting_a_model_forgets_the_redirected_copy() -> None:
    from featviz_engine import caches, models

    dead_filter_spec()
    network = models.load_network(DEAD_MODEL, "random")
    redirected = models.redirected_relu_network(network)
    assert models.redirected_relu_network(network) is redirected  # cached
    models.extractor_for(redirected, ("dead",))
    caches.forget_model(DEAD_MODEL)
    assert not any(key[0] in (id(network.model), id(redirected.model)) for key in caches.extractors)
    assert id(network.model) not in caches.redirected
