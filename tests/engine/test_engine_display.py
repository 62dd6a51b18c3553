"""What the user sees: the picture per parameterisation, and the activation of that picture."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from featviz_engine.display import as_model_images, picture
from featviz_engine.images import crop_for, deprocess
from featviz_engine.models import load_network
from featviz_engine.render import render
from featviz_engine.results import FilterResult
from featviz_engine.spec import RenderSpec
from featviz_engine.trained_weights import HED_BSDS500

SIZE = 64
LAYER = "block3_conv3"
FILTERS = (3, 12)
LIVE_FOURIER_FILTER = 12
"""Alive at the Fourier start image at this size (most filters of this layer are not)."""


def trained_spec(**changes: object) -> RenderSpec:
    settings: dict[str, object] = {
        "model": "vgg16",
        "weights": HED_BSDS500,
        "layer": LAYER,
        "filters": FILTERS,
        "image_size": SIZE,
        "iterations": 12,
        "snapshots": (0, 5),
        "tv_start": 6,
        "batch_size": len(FILTERS),
    }
    return RenderSpec(**(settings | changes))  # type: ignore[arg-type]


def independent_activation(rgb: np.ndarray, channel: int) -> float:
    """The PNG through keras' own VGG16 preprocessing, on a mid-grey canvas of the optimised size,
    and the target channel's mean over the map without its 2-pixel border."""
    model = load_network("vgg16", HED_BSDS500).model
    features = keras.Model(model.inputs, model.get_layer(LAYER).output)
    canvas = np.full((1, SIZE, SIZE, 3), 127.5, np.float32)
    top = (SIZE - rgb.shape[0]) // 2
    canvas[0, top : top + rgb.shape[0], top : top + rgb.shape[1]] = rgb
    maps = features(keras.applications.vgg16.preprocess_input(canvas)).numpy()
    return float(maps[0, 2:-2, 2:-2, channel].mean())


def test_the_seed_pixel_method_is_shown_through_the_seeds_deprocessing() -> None:
    image = np.random.default_rng(3).normal(0, 4, (SIZE, SIZE, 3)).astype(np.float32)
    np.testing.assert_array_equal(picture(image, "pixel"), deprocess(image))


@pytest.mark.parametrize("name", ["fourier", "magnitude_constrained"])
def test_in_range_parameterisations_are_shown_as_optimised(name: str) -> None:
    image = np.random.default_rng(4).uniform(-1, 1, (SIZE, SIZE, 3)).astype(np.float32)
    shown = picture(image, name)  # type: ignore[arg-type]
    assert shown.shape == image.shape
    np.testing.assert_allclose(shown, (image + 1) / 2, atol=1e-7)


def test_displayed_pixels_map_back_to_themselves() -> None:
    rgb = np.random.default_rng(5).integers(0, 256, (2, 50, 50, 3), dtype=np.uint8)
    images = as_model_images(rgb, SIZE)
    assert images.shape == (2, SIZE, SIZE, 3)
    inner = images[:, 7:57, 7:57]
    np.testing.assert_array_equal(np.rint((inner + 1) * 127.5), rgb)
    frame = images.copy()
    frame[:, 7:57, 7:57] = 0.0
    assert not frame.any(), "the displayed crop sits on mid grey (0 in [-1, 1] space)"


def displayed_of(result: FilterResult) -> list[tuple[np.ndarray, float, float]]:
    return [
        (frame.rgb, frame.metrics["activation"], frame.metrics["displayed_activation"])
        for frame in result.frames
    ]


@pytest.mark.parametrize(
    "method",
    [{}, {"parameterization": "fourier", "optimizer": "adam"}],
    ids=["seed pixel", "fourier"],
)
def test_every_snapshot_records_the_activation_of_its_png(method: dict[str, object]) -> None:
    result = render(trained_spec(**method))
    for filter_result in result.filters:
        for rgb, _, displayed in displayed_of(filter_result):
            expected = independent_activation(rgb, filter_result.filter)
            assert displayed == pytest.approx(expected, rel=1e-3, abs=1e-3)


def test_the_seed_png_is_the_deprocessed_crop_and_fourier_the_whole_image() -> None:
    seed = render(trained_spec(snapshots=())).filters[0].final
    fourier = render(trained_spec(parameterization="fourier", snapshots=())).filters[0].final
    assert seed is not None
    assert fourier is not None
    tile = SIZE - 2 * crop_for(SIZE)
    assert seed.rgb.shape == (tile, tile, 3)
    assert fourier.rgb.shape == (SIZE, SIZE, 3)


def test_an_in_range_image_activates_as_displayed_what_it_activates_optimised() -> None:
    """Shown as optimised, the PNG differs from the image by 8-bit rounding only."""
    spec = trained_spec(
        parameterization="fourier", optimizer="adam", filters=(LIVE_FOURIER_FILTER,), iterations=30
    )
    result = render(spec)
    for filter_result in result.filters:
        _, activation, displayed = displayed_of(filter_result)[-1]
        assert activation > 0
        assert displayed == pytest.approx(activation, rel=0.05)
