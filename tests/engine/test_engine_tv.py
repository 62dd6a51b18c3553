"""On-graph Chambolle TV against scikit-image, the reference oracle."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.restoration import denoise_tv_chambolle as skimage_tv

from featviz_engine.tv import denoise_tv_chambolle

SHAPES = [(17, 23, 3), (48, 32, 3), (64, 64, 3)]
WEIGHTS = [0.0005, 0.01, 0.2]


def reference(image: np.ndarray, weight: float, mode: str) -> np.ndarray:
    """What scikit-image gives one image, as the seed calls it or channel by channel."""
    if mode == "seed":
        return skimage_tv(image[np.newaxis], weight=weight)[0]
    return skimage_tv(image, weight=weight, channel_axis=-1)


def noisy_images(shape: tuple[int, ...], count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    smooth = np.linspace(-0.3, 0.3, shape[0] * shape[1] * shape[2]).reshape(shape)
    noise = rng.normal(0, 0.1, size=(count, *shape))
    return (smooth + noise).astype(np.float32)


@pytest.mark.parametrize("mode", ["seed", "per_channel"])
@pytest.mark.parametrize("weight", WEIGHTS)
@pytest.mark.parametrize("shape", SHAPES)
def test_matches_scikit_image(shape: tuple[int, ...], weight: float, mode: str) -> None:
    image = noisy_images(shape, 1, seed=1)
    denoised = denoise_tv_chambolle(image, np.array([weight], np.float32), mode).numpy()[0]
    expected = reference(image[0], weight, mode)
    assert np.abs(denoised - expected).max() <= 1e-4
    # The comparison means something only if denoising changed the image.
    assert np.abs(expected - image[0]).max() > 1e-3


@pytest.mark.parametrize("mode", ["seed", "per_channel"])
def test_batch_equals_separate_calls(mode: str) -> None:
    images = noisy_images((40, 36, 3), 4, seed=2)
    images[2] *= 3.0  # images that converge after different numbers of iterations
    weights = np.array([0.0005, 0.05, 0.1, 0.3], np.float32)
    batch = denoise_tv_chambolle(images, weights, mode).numpy()
    for i in range(4):
        alone = denoise_tv_chambolle(images[i : i + 1], weights[i : i + 1], mode).numpy()[0]
        assert np.abs(batch[i] - alone).max() <= 1e-6
        assert np.abs(batch[i] - reference(images[i], float(weights[i]), mode)).max() <= 1e-4


def test_zero_weight_leaves_image_unchanged() -> None:
    images = noisy_images((20, 20, 3), 2, seed=3)
    out = denoise_tv_chambolle(images, np.array([0.0, 0.1], np.float32), "seed").numpy()
    np.testing.assert_array_equal(out[0], images[0])
    assert np.abs(out[1] - images[1]).max() > 1e-3


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="tv_mode"):
        denoise_tv_chambolle(np.zeros((1, 8, 8, 3), np.float32), np.ones(1, np.float32), "x")  # type: ignore[arg-type]
