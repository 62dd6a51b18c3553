"""Quality metrics of a snapshot: how strong, how smooth, how much high-frequency noise."""

from __future__ import annotations

import numpy as np

HIGH_FREQUENCY_CUTOFF = 0.25
"""Radial frequency, in cycles per pixel, above which energy counts as high-frequency."""

ORIENTATION_OVERSAMPLING = 4

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float64)


def total_variation_per_pixel(image: np.ndarray) -> float:
    """Mean absolute difference between horizontal and vertical neighbours, over all channels.

    ``image`` is a deprocessed ``(H, W, 3)`` array in [0, 1].
    """
    pixels = image.astype(np.float64)
    vertical = np.abs(np.diff(pixels, axis=0)).sum()
    horizontal = np.abs(np.diff(pixels, axis=1)).sum()
    return float((vertical + horizontal) / pixels.size)


def high_frequency_fraction(image: np.ndarray) -> float:
    """Share of the luminance spectrum's power above 0.25 cycles/pixel.

    Luminance, mean removed, under a 2-D Hann window; power at radial frequency > 0.25 over
    power at radial frequency > 0. A flat image has no power at all and scores 0.
    """
    luminance = image.astype(np.float64) @ _LUMA
    luminance -= luminance.mean()
    if np.abs(luminance).max() < 1e-9:  # flat: the spectrum is rounding noise
        return 0.0
    window = np.outer(np.hanning(luminance.shape[0]), np.hanning(luminance.shape[1]))
    power = np.abs(np.fft.fft2(luminance * window)) ** 2
    fy = np.fft.fftfreq(luminance.shape[0])[:, np.newaxis]
    fx = np.fft.fftfreq(luminance.shape[1])[np.newaxis, :]
    radius = np.sqrt(fx**2 + fy**2)
    return float(power[radius > HIGH_FREQUENCY_CUTOFF].sum() / power[radius > 0].sum())


def snapshot_metrics(
    displayed: np.ndarray, activation: float, displayed_activation: float | None = None
) -> dict[str, float]:
    """The metrics recorded for each snapshot.

    Parameters
    ----------
    displayed
        The picture shown (``display.picture``), in [0, 1].
    activation
        The objective of the optimised image.
    displayed_activation
        The same objective of the 8-bit picture shown (``display.displayed_activations``); the
        engine's render always measures it, so what activates is judged on what is seen.
    """
    metrics = {
        "activation": float(activation),
        "total_variation": total_variation_per_pixel(displayed),
        "high_frequency_fraction": high_frequency_fraction(displayed),
    }
    if displayed_activation is not None:
        metrics["displayed_activation"] = float(displayed_activation)
    return metrics


def dominant_orientation(image: np.ndarray) -> float:
    """Direction of the luminance spectrum's strongest frequency, in degrees in [0, 180).

    Measured from the horizontal frequency axis toward the vertical one (rows down), so vertical
    stripes give 0 and horizontal stripes 90: the orientation of the wave vector, normal to the
    stripes. Same windowing as ``high_frequency_fraction``; the zero frequency is ignored. The
    spectrum is sampled ``ORIENTATION_OVERSAMPLING`` times finer than the image's own grid (zero
    padding), because on a small image the grid's coarse angles would blur a 15-degree question.
    """
    power = _power_spectrum(_windowed_luminance(image), _oversampled(image))
    row, column = np.unravel_index(np.argmax(power), power.shape)
    fy = np.fft.fftfreq(power.shape[0])[row]
    fx = np.fft.fftfreq(power.shape[1])[column]
    return float(np.degrees(np.arctan2(fy, fx)) % 180.0)


def mean_orientation(image: np.ndarray) -> tuple[float, float]:
    """Power-weighted mean orientation of the luminance spectrum, and how strongly it holds.

    ``spectrum_orientation`` of the picture's luminance, windowed and sampled as in
    ``dominant_orientation``. Where ``dominant_orientation`` follows one spectral peak, which on a
    meandering texture of stripes wanders with the texture's noise, this averages over the whole
    spectrum: it is the orientation of the picture's structure tensor.
    """
    return spectrum_orientation(_windowed_luminance(image), _oversampled(image))


def spectrum_orientation(signal: np.ndarray, shape: tuple[int, int]) -> tuple[float, float]:
    """Mean orientation of a 2-D signal's wave vectors, weighted by power, in degrees in [0, 180).

    Measured as in ``dominant_orientation`` (vertical stripes 0, horizontal stripes 90). The mean is
    taken over doubled angles, so opposite wave vectors agree; its length is the strength, 1 for a
    single orientation (a grating) and 0 for none (isotropic texture).

    Parameters
    ----------
    signal
        ``(h, w)`` array: a windowed luminance, or a small kernel as it is (a window would erase a
        3x3 kernel's edges).
    shape
        The frequency grid, at least ``signal``'s shape (zero padding samples it finer).
    """
    if np.abs(signal).max() < 1e-9:  # flat: the spectrum is rounding noise
        return 0.0, 0.0
    power = _power_spectrum(signal, shape)
    total = power.sum()
    fy = np.fft.fftfreq(shape[0])[:, np.newaxis]
    fx = np.fft.fftfreq(shape[1])[np.newaxis, :]
    mean = (power * np.exp(2j * np.arctan2(fy, fx))).sum() / total
    degrees = float(np.degrees(np.angle(mean) / 2) % 180.0)
    return (0.0 if degrees == 180.0 else degrees), float(np.abs(mean))  # -1e-15 % 180 rounds to 180


def _windowed_luminance(image: np.ndarray) -> np.ndarray:
    luminance = image.astype(np.float64) @ _LUMA
    luminance -= luminance.mean()
    window = np.outer(np.hanning(luminance.shape[0]), np.hanning(luminance.shape[1]))
    windowed: np.ndarray = luminance * window
    return windowed


def _oversampled(image: np.ndarray) -> tuple[int, int]:
    return ORIENTATION_OVERSAMPLING * image.shape[0], ORIENTATION_OVERSAMPLING * image.shape[1]


def _power_spectrum(signal: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Power on a ``shape`` grid (zero padding), the zero frequency excluded."""
    power: np.ndarray = np.abs(np.fft.fft2(signal.astype(np.float64), s=shape)) ** 2
    power[0, 0] = 0.0
    return power
