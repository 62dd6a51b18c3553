"""One call forgets everything the engine built on a model: network, redirected-ReLU copy,
feature extractors and ascent programs."""

from __future__ import annotations

import keras
import tensorflow as tf

from featviz_engine import caches
from featviz_engine.models import is_registered, register_network
from featviz_engine.render import render
from featviz_engine.spec import RenderSpec

TINY_MODEL = "tiny_for_forgetting"


def test_forget_model_drops_everything_built_on_it() -> None:
    inputs = keras.Input((None, None, 3))
    outputs = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    network = register_network(TINY_MODEL, keras.Model(inputs, outputs), tf.identity)
    spec = RenderSpec(
        model=TINY_MODEL, layer="conv", filters=(0, 1), image_size=16, iterations=3,
        snapshots=(), tv_weight=0.0, relu_warmup=2,
    )  # fmt: skip
    render(spec)
    redirected = caches.redirected[id(network.model)]
    built_on = {id(network.model), id(redirected.model)}
    assert {key[0] for key in caches.extractors} >= built_on
    assert any(design.model == TINY_MODEL for design in caches.programs)

    caches.forget_model(TINY_MODEL)

    assert not is_registered(TINY_MODEL)
    assert id(network.model) not in caches.redirected
    assert not any(key[0] in built_on for key in caches.extractors)
    assert not any(design.model == TINY_MODEL for design in caches.programs)
    caches.forget_model(TINY_MODEL)  # forgetting twice is no error
