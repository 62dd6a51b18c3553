"""Starting from an image (feature accentuation): the start is the image, the closeness weight
keeps the ascent near it, and the filter's activation still rises."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from skimage import data

from featviz_engine import parameterizations
from featviz_engine.ascent import AscentSettings, optimize
from featviz_engine.dataset_images import square
from featviz_engine.display import as_model_images, picture
from featviz_engine.images import to_uint8
from featviz_engine.render import prepare, render_pack
from featviz_engine.spec import RenderSpec

SIZE = 64
SPEC: dict[str, object] = {
    "weights": "random",
    "layer": "conv3_block1_out",
    "filters": (3,),
    "iterations": 12,
    "snapshots": (0,),
    "image_size": SIZE,
    "tv_weight": 0.0,
}


def photo_rgb() -> np.ndarray:
    """skimage's astronaut as a job's start image: ``(SIZE, SIZE, 3)`` uint8."""
    return square(Image.fromarray(data.astronaut()), SIZE)


def photo() -> np.ndarray:
    """The start image in the optimiser's [-1, 1] space."""
    return as_model_images(photo_rgb()[np.newaxis], SIZE)[0]


@pytest.mark.parametrize("name", ["pixel", "fourier"])
def test_the_start_variables_give_back_the_image(
    name: parameterizations.ParameterizationName,
) -> None:
    parameterization = parameterizations.parameterization(name, SIZE)
    start = photo()
    images = parameterization.to_image(parameterization.from_image(start[None]))
    # Fourier images end in a sigmoid, which the start is clipped inside of.
    edge = parameterizations.SIGMOID_EDGE if name == "fourier" else 1.0
    np.testing.assert_allclose(images.numpy()[0], np.clip(start, -edge, edge), atol=1e-4)


def test_magnitude_constrained_starts_from_the_image_s_phase() -> None:
    maco = parameterizations.parameterization("magnitude_constrained", SIZE)
    start = photo()
    image = maco.to_image(maco.from_image(start[None])).numpy()[0]
    noise = maco.to_image(tf.constant(maco.initial(0, SIZE, 1))).numpy()[0]
    # Phase carries the structure: the image correlates with the photo, noise does not.
    assert np.corrcoef(image.ravel(), start.ravel())[0, 1] > 0.5
    assert abs(np.corrcoef(noise.ravel(), start.ravel())[0, 1]) < 0.2


def ascend(weight: float) -> tuple[float, float, float]:
    """Distance (RMS, [-1, 1] space) of the final image to the photo; the filter's activation
    on the photo and on the final image."""
    spec, program = prepare(RenderSpec(**{**SPEC, "start_image_weight": weight}), True)  # type: ignore[arg-type]
    start = photo()[None]
    assert spec.learning_rate is not None
    settings = AscentSettings(
        channels=(3,),
        learning_rates=(spec.learning_rate,),
        tv_weights=(0.0,),
        iterations=30,
        snapshots=(),
    )
    final = optimize(program, program.parameterization.from_image(start).numpy(), settings)
    targets = tf.constant([3])
    before = float(program.image_activation(tf.constant(start), targets).numpy()[0])
    after = float(program.image_activation(tf.constant(final), targets).numpy()[0])
    return float(np.sqrt(np.mean((final - start) ** 2))), before, after


def test_the_closeness_weight_keeps_the_ascent_near_the_photo() -> None:
    free_distance, before, free_after = ascend(0.0)
    held_distance, _, held_after = ascend(1e3)
    assert free_after > before  # the filter's activation rises from the photo
    assert held_after > before
    assert held_distance < 0.25 * free_distance
    assert free_after > held_after


def test_a_render_from_an_image_shows_the_photo_at_its_first_snapshot() -> None:
    spec, program = prepare(RenderSpec(**SPEC), True)  # type: ignore[arg-type]
    (result,) = render_pack(spec, program, [3], [0.0], start_image=photo_rgb())
    (noise,) = render_pack(spec, program, [3], [0.0])
    shown = to_uint8(picture(photo(), "pixel")).astype(float).ravel()

    def likeness(rgb: np.ndarray) -> float:
        return float(np.corrcoef(rgb.astype(float).ravel(), shown)[0, 1])

    assert result.snapshots[0].iteration == 0
    assert likeness(result.snapshots[0].rgb) > 0.9
    assert abs(likeness(noise.snapshots[0].rgb)) < 0.2
