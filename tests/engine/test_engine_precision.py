"""Reduced precision: the network in bfloat16 or float16, everything else in float32."""

from __future__ import annotations

import numpy as np
import pytest

from featviz_engine.models import load_network
from featviz_engine.render import render
from featviz_engine.spec import RenderSpec

SPEC: dict[str, object] = {
    "weights": "random",
    "layer": "conv3_block1_out",
    "filters": (3, 7, 11),
    "iterations": 20,
    "snapshots": (),
    "tv_start": 5,
    "image_size": 64,
}


def final_activations(precision: str) -> tuple[np.ndarray, list[np.ndarray]]:
    result = render(RenderSpec(**{**SPEC, "precision": precision}))  # type: ignore[arg-type]
    finals = [r.final for r in result.filters]
    assert all(f is not None for f in finals)
    return (
        np.array([f.metrics["activation"] for f in finals if f is not None]),
        [f.rgb for f in finals if f is not None],
    )


@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_reduced_precision_reaches_the_float32_activation(precision: str) -> None:
    reference, _ = final_activations("float32")
    reduced, images = final_activations(precision)
    assert np.all(np.abs(reduced - reference) <= 0.1 * np.abs(reference))
    for image in images:
        assert image.dtype == np.uint8
        assert image.std() > 0


def test_each_precision_is_its_own_cached_network() -> None:
    full = load_network("resnet50v2", "random", "float32")
    half = load_network("resnet50v2", "random", "bfloat16")
    assert full is not half
    assert half is load_network("resnet50v2", "random", "bfloat16")
    assert half.model.layers[2].compute_dtype == "bfloat16"
    assert full.model.layers[2].compute_dtype == "float32"
    # float32 weights in both, and the same ones: random weights are seeded
    np.testing.assert_array_equal(
        full.model.layers[2].get_weights()[0], half.model.layers[2].get_weights()[0]
    )
