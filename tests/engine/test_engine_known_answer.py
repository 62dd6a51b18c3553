"""Known answers: on a network trained here to tell stripe orientations apart, the class-logit
visualisation of a grating class must be made of stripes of that orientation."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from featviz_engine import toy_network
from featviz_engine.metrics import dominant_orientation
from featviz_engine.render import prepare, render, render_pack
from featviz_engine.results import FilterResult
from featviz_engine.spec import RenderSpec
from tests.helpers.paths import CACHE_DIR

GRATINGS = tuple(
    index
    for index, name in enumerate(toy_network.CLASSES)
    if toy_network.grating_orientation(name) is not None
)
TOLERANCE_DEGREES = 15.0
SEED_TV_WEIGHTS = (0.0005, 0.001)


@pytest.fixture(scope="module")
def class_logit_spec() -> RenderSpec:
    toy_network.register(CACHE_DIR)
    return RenderSpec(
        model=toy_network.NETWORK_NAME,
        layer=toy_network.FEATURE_LAYER,
        objective=(("class_logit", 1.0),),
        filters=GRATINGS,
        image_size=64,
        iterations=100,
        snapshots=(),
        tv_start=20,
    )


def angular_distance(a: float, b: float) -> float:
    """Distance between two orientations in degrees, modulo 180."""
    difference = abs(a - b) % 180.0
    return min(difference, 180.0 - difference)


def final_picture(result: FilterResult) -> np.ndarray:
    assert result.final is not None
    return result.final.rgb.astype(np.float64) / 255.0


def assert_orientations(results: list[FilterResult]) -> None:
    for result in results:
        expected = toy_network.grating_orientation(toy_network.CLASSES[result.filter])
        assert expected is not None
        found = dominant_orientation(final_picture(result))
        assert angular_distance(found, expected) <= TOLERANCE_DEGREES, (
            f"class {toy_network.CLASSES[result.filter]}: dominant frequency at {found:.1f} deg"
        )


@pytest.fixture(scope="module")
def seed_runs(class_logit_spec: RenderSpec) -> dict[float, list[FilterResult]]:
    """The seed's method on every grating class, without TV and at the seed's TV weights, as one
    batch (each image of a batch gets what it would get alone)."""
    spec, program = prepare(class_logit_spec)
    weights = (0.0, *SEED_TV_WEIGHTS)
    channels = [c for _ in weights for c in GRATINGS]
    tv_weights = [w for w in weights for _ in GRATINGS]
    results = render_pack(spec, program, channels, tv_weights)
    return {w: [r for r in results if r.tv_weight == w] for w in weights}


def test_toy_network_tells_the_patterns_apart() -> None:
    toy_network.register(CACHE_DIR)
    settings = toy_network.TrainingSettings()
    images, labels = toy_network.dataset(
        toy_network.TrainingSettings(seed=settings.seed + 2, images_per_class=20)
    )
    model = toy_network.load_or_train(CACHE_DIR, settings)
    predictions = np.argmax(model.predict(images, verbose=0), axis=1)
    assert np.mean(predictions == labels) >= 0.95


def test_seed_method_draws_stripes_of_the_class_orientation(
    seed_runs: dict[float, list[FilterResult]],
) -> None:
    for tv_weight in seed_runs:
        assert_orientations(seed_runs[tv_weight])


def test_fourier_with_transforms_draws_stripes_of_the_class_orientation(
    class_logit_spec: RenderSpec,
) -> None:
    spec = replace(
        class_logit_spec, parameterization="fourier", optimizer="adam", transforms="standard"
    )
    assert_orientations(render(spec).filters)


@pytest.mark.parametrize("tv_weight", SEED_TV_WEIGHTS)
def test_tv_lowers_high_frequencies_and_keeps_the_activation(
    seed_runs: dict[float, list[FilterResult]], tv_weight: float
) -> None:
    for plain, denoised in zip(seed_runs[0.0], seed_runs[tv_weight], strict=True):
        assert plain.final is not None
        assert denoised.final is not None
        before, after = plain.final.metrics, denoised.final.metrics
        assert after["high_frequency_fraction"] < before["high_frequency_fraction"]
        assert after["activation"] >= 0.9 * before["activation"]
