"""Quality metrics on images whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from featviz_engine.metrics import (
    high_frequency_fraction,
    mean_orientation,
    snapshot_metrics,
    spectrum_orientation,
    total_variation_per_pixel,
)


def grating(period: float, size: int = 64) -> np.ndarray:
    x = np.arange(size)
    wave = 0.5 + 0.5 * np.sin(2 * np.pi * x / period)
    return np.repeat(np.tile(wave, (size, 1))[..., np.newaxis], 3, axis=2)


def test_flat_image_has_no_variation_and_no_high_frequencies() -> None:
    flat = np.full((32, 32, 3), 0.4)
    assert total_variation_per_pixel(flat) == 0
    assert high_frequency_fraction(flat) == 0


def test_high_frequency_fraction_separates_fine_from_coarse_gratings() -> None:
    assert high_frequency_fraction(grating(period=16)) < 0.05  # 0.0625 cycles/pixel
    assert high_frequency_fraction(grating(period=2.5)) > 0.9  # 0.4 cycles/pixel


def test_total_variation_of_a_checkerboard() -> None:
    board = (np.indices((10, 10)).sum(axis=0) % 2).astype(float)
    image = np.repeat(board[..., np.newaxis], 3, axis=2)
    # every pixel differs by 1 from its right and lower neighbours, but the last row and column
    assert total_variation_per_pixel(image) == (2 * 9 * 10 * 3) / image.size


def test_snapshot_metrics_names() -> None:
    metrics = snapshot_metrics(grating(8), activation=1.5)
    assert set(metrics) == {"activation", "total_variation", "high_frequency_fraction"}
    assert metrics["activation"] == 1.5


def oriented_grating(degrees: float, period: float = 6.0, size: int = 64) -> np.ndarray:
    """Stripes whose wave vector points ``degrees`` from the horizontal axis toward rows down."""
    rows, columns = np.indices((size, size))
    angle = np.radians(degrees)
    phase = 2 * np.pi * (columns * np.cos(angle) + rows * np.sin(angle)) / period
    return np.repeat((0.5 + 0.5 * np.sin(phase))[..., np.newaxis], 3, axis=2)


@pytest.mark.parametrize("degrees", [0.0, 30.0, 90.0, 135.0])
def test_mean_orientation_of_a_grating(degrees: float) -> None:
    found, strength = mean_orientation(oriented_grating(degrees))
    assert min(abs(found - degrees), 180 - abs(found - degrees)) < 2.0
    assert strength > 0.9


def test_noise_and_flat_pictures_have_no_strong_orientation() -> None:
    noise = np.random.default_rng(0).random((64, 64, 3))
    assert mean_orientation(noise)[1] < 0.1
    assert mean_orientation(np.full((16, 16, 3), 0.3)) == (0.0, 0.0)


def test_a_kernels_orientation_without_a_window() -> None:
    vertical_edge = np.array([[-1.0, 0.0, 1.0]] * 3)
    found, strength = spectrum_orientation(vertical_edge, (64, 64))
    assert found == pytest.approx(0.0, abs=1e-6)
    assert strength > 0.5
