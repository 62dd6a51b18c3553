"""How the optimised variables become an image.

``pixel`` is the seed's: the variables are the image. ``fourier`` (Olah et al., Distill 2017;
Lucid's ``fft_image``) optimises a 1/f-scaled spectrum (1/f^decay with ``spectrum_decay``) through
a colour decorrelation and a sigmoid, which spreads each step over all frequencies instead of
piling it on high ones.
``magnitude_constrained`` (MaCo, Fel et al. 2023) fixes the spectrum's magnitude and optimises its
phase only. Every image of a batch starts from the same seeded variables, so an image does not
depend on the batch it was packed into; ``from_image`` starts from given images instead (a
photo to accentuate): the pixel and Fourier variables reproduce them, MaCo keeps their phase.
"""

from __future__ import annotations

from typing import Literal, Protocol

import numpy as np
import tensorflow as tf

ParameterizationName = Literal["pixel", "fourier", "magnitude_constrained"]
PARAMETERIZATIONS: tuple[ParameterizationName, ...] = ("pixel", "fourier", "magnitude_constrained")

# Lucid's colour correlation of ImageNet (square root of its SVD), normalised.
_COLOR_CORRELATION_SVD_SQRT = np.array(
    [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], dtype=np.float32
)
_COLOR_CORRELATION = (
    _COLOR_CORRELATION_SVD_SQRT / np.max(np.linalg.norm(_COLOR_CORRELATION_SVD_SQRT, axis=0))
).astype(np.float32)

FOURIER_INIT_STD = 0.01


class Parameterization(Protocol):
    """Turns optimisation variables into ``(B, H, W, 3)`` images in [-1, 1] space."""

    name: ParameterizationName

    def initial(self, seed: int, image_size: int, batch: int) -> np.ndarray: ...

    def from_image(self, images: tf.Tensor) -> tf.Tensor:
        """The variables whose image is (as near as it can be) ``images``, ``(B, H, W, 3)`` in
        [-1, 1] space."""
        ...

    def to_image(self, variables: tf.Tensor) -> tf.Tensor: ...


def _repeat(variables: np.ndarray, batch: int) -> np.ndarray:
    return np.repeat(variables[np.newaxis], batch, axis=0)


class Pixel:
    """The seed's parameterisation: the image itself, starting grey with uniform noise."""

    name: ParameterizationName = "pixel"

    def initial(self, seed: int, image_size: int, batch: int) -> np.ndarray:
        noise = np.random.default_rng(seed).random((image_size, image_size, 3), dtype=np.float32)
        return _repeat((noise - np.float32(0.5)) * np.float32(0.25), batch)

    def from_image(self, images: tf.Tensor) -> tf.Tensor:
        return tf.cast(images, tf.float32)

    def to_image(self, variables: tf.Tensor) -> tf.Tensor:
        return variables


def _frequencies(size: int) -> np.ndarray:
    """Radial frequency of each coefficient of a ``size`` x ``size`` real 2-D FFT."""
    fy = np.fft.fftfreq(size)[:, np.newaxis]
    fx = np.fft.rfftfreq(size)[np.newaxis, :]
    radius: np.ndarray = np.sqrt(fx * fx + fy * fy)
    return radius


def _spectrum_scale(size: int, decay: float = 1.0) -> np.ndarray:
    """1/f^decay (Lucid's ``decay_power``), capped at the lowest frequency, times sqrt(pixels)
    so that at 1/f the image has unit scale."""
    lowest_capped = np.maximum(_frequencies(size), 1.0 / size)
    scale: np.ndarray = (size / lowest_capped**decay).astype(np.float32)
    return scale


SIGMOID_EDGE = 0.98
"""How far into (-1, 1) a start image is clipped before the sigmoid is inverted (the inverse is
infinite at the ends)."""


def _image_to_decorrelated(images: tf.Tensor) -> tf.Tensor:
    """``(B, H, W, 3)`` images in [-1, 1] to the ``(B, 3, H, W)`` signal that
    ``_decorrelated_to_image`` turns back into them (clipped to ``SIGMOID_EDGE``)."""
    clipped = tf.clip_by_value(tf.cast(images, tf.float32), -SIGMOID_EDGE, SIGMOID_EDGE)
    correlated = 2.0 * tf.math.atanh(clipped)
    inverse = tf.constant(np.linalg.inv(_COLOR_CORRELATION.T).astype(np.float32))
    return tf.transpose(tf.tensordot(correlated, inverse, 1), [0, 3, 1, 2])


def _decorrelated_to_image(signal: tf.Tensor) -> tf.Tensor:
    """``(B, 3, H, W)`` decorrelated colour signal to ``(B, H, W, 3)`` in (-1, 1)."""
    channels_last = tf.transpose(signal, [0, 2, 3, 1])
    correlated = tf.tensordot(channels_last, tf.constant(_COLOR_CORRELATION.T), 1)
    return 2.0 * tf.sigmoid(correlated) - 1.0


class Fourier:
    """A 1/f^decay-scaled spectrum per colour channel (real and imaginary parts optimised)."""

    name: ParameterizationName = "fourier"

    def __init__(self, image_size: int, decay: float = 1.0) -> None:
        self.image_size = image_size
        self.scale = tf.constant(_spectrum_scale(image_size, decay))

    def initial(self, seed: int, image_size: int, batch: int) -> np.ndarray:
        shape = (2, 3, *_frequencies(image_size).shape)
        spectrum = np.random.default_rng(seed).normal(0, FOURIER_INIT_STD, shape)
        return _repeat(spectrum.astype(np.float32), batch)

    def from_image(self, images: tf.Tensor) -> tf.Tensor:
        transform = tf.signal.rfft2d(4.0 * _image_to_decorrelated(images))
        spectrum = transform / tf.cast(self.scale, tf.complex64)
        return tf.stack([tf.math.real(spectrum), tf.math.imag(spectrum)], axis=1)

    def to_image(self, variables: tf.Tensor) -> tf.Tensor:
        spectrum = tf.complex(variables[:, 0], variables[:, 1]) * tf.cast(self.scale, tf.complex64)
        size = self.image_size
        signal = tf.signal.irfft2d(spectrum, fft_length=[size, size]) / 4.0
        return _decorrelated_to_image(signal)


class MagnitudeConstrained:
    """MaCo: the spectrum's magnitude is fixed (here 1/f; MaCo uses ImageNet's mean magnitude,
    which cannot be computed offline), the phase is optimised; the signal is standardised."""

    name: ParameterizationName = "magnitude_constrained"

    def __init__(self, image_size: int, decay: float = 1.0) -> None:
        self.image_size = image_size
        self.magnitude = tf.constant(_spectrum_scale(image_size, decay))

    def initial(self, seed: int, image_size: int, batch: int) -> np.ndarray:
        shape = (3, *_frequencies(image_size).shape)
        phase = np.random.default_rng(seed).uniform(-np.pi, np.pi, shape)
        return _repeat(phase.astype(np.float32), batch)

    def from_image(self, images: tf.Tensor) -> tf.Tensor:
        return tf.math.angle(tf.signal.rfft2d(_image_to_decorrelated(images)))

    def to_image(self, variables: tf.Tensor) -> tf.Tensor:
        magnitude = tf.cast(self.magnitude, tf.complex64)
        spectrum = magnitude * tf.exp(tf.complex(tf.zeros_like(variables), variables))
        size = self.image_size
        signal = tf.signal.irfft2d(spectrum, fft_length=[size, size])
        mean, variance = tf.nn.moments(signal, axes=[1, 2, 3], keepdims=True)
        return _decorrelated_to_image((signal - mean) / tf.sqrt(variance + 1e-8))


def parameterization(
    name: ParameterizationName, image_size: int, spectrum_decay: float = 1.0
) -> Parameterization:
    """The named parameterisation; ``spectrum_decay`` shapes the spectra's (pixels have none)."""
    if name == "pixel":
        return Pixel()
    if name == "fourier":
        return Fourier(image_size, spectrum_decay)
    if name == "magnitude_constrained":
        return MagnitudeConstrained(image_size, spectrum_decay)
    raise ValueError(f"parameterization must be one of {PARAMETERIZATIONS}, got {name!r}")
