"""Known answer on real weights: the trained VGG16's first layer is 64 3x3 kernels, so what each
filter wants is in its weights; its visualisation must have the kernel's orientation.

A first-layer filter is linear before its ReLU, so among patterns of one contrast it answers most
to gratings at the peaks of its kernel's spectrum: the kernel's own power-weighted orientation
(``spectrum_orientation``) is the answer, and the picture's (``mean_orientation``) must agree.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from featviz_engine.metrics import mean_orientation, spectrum_orientation
from featviz_engine.models import Network, load_network
from featviz_engine.render import render
from featviz_engine.spec import RenderSpec
from featviz_engine.trained_weights import HED_BSDS500

LAYER = "block1_conv1"
CHECKED_FILTERS = 8
TOLERANCE_DEGREES = 15.0
KERNEL_SPECTRUM_GRID = (64, 64)
LUMA = np.array([0.299, 0.587, 0.114])


def rgb_kernels(network: Network) -> np.ndarray:
    """``(3, 3, 3, filters)`` first-layer kernels as seen from the optimiser's RGB images.

    The model's input mapping is affine per channel (caffe: RGB to BGR, times 127.5, minus the
    mean), so pushing the unit colours through it gives the matrix that carries the kernels back.
    """
    kernels = network.model.get_layer(LAYER).get_weights()[0]
    zero = network.to_model_input(tf.zeros((1, 1, 1, 3)))
    units = network.to_model_input(tf.reshape(tf.eye(3), (3, 1, 1, 3)))
    to_model_channels = (units - zero).numpy().reshape(3, 3)  # [rgb, model channel]
    rgb: np.ndarray = np.einsum("hwmf,cm->hwcf", kernels, to_model_channels)
    return rgb


def flat_share(kernel: np.ndarray) -> float:
    """Share of a ``(3, 3, 3)`` kernel's energy in its per-channel mean: its answer to flat colour.

    A filter that mostly wants a flat colour is maximised by one, which has no orientation.
    """
    return float((kernel.sum(axis=(0, 1)) ** 2).sum() / 9 / (kernel**2).sum())


def angular_distance(a: float, b: float) -> float:
    difference = abs(a - b) % 180.0
    return min(difference, 180.0 - difference)


@pytest.fixture(scope="module")
def most_oriented() -> dict[int, float]:
    """The kernels' orientations, for the filters most oriented and least flat."""
    kernels = rgb_kernels(load_network("vgg16", HED_BSDS500))
    answers = {}
    for index in range(kernels.shape[-1]):
        kernel = kernels[..., index]
        orientation, strength = spectrum_orientation(kernel @ LUMA, KERNEL_SPECTRUM_GRID)
        answers[index] = (orientation, strength * (1 - flat_share(kernel)))
    ranked = sorted(answers, key=lambda index: -answers[index][1])
    return {index: answers[index][0] for index in ranked[:CHECKED_FILTERS]}


@pytest.mark.parametrize(
    "method",
    [
        {"iterations": 40},
        {"parameterization": "fourier", "optimizer": "adam", "iterations": 100},
    ],
    ids=["seed pixel", "fourier adam"],
)
def test_first_layer_pictures_have_their_kernels_orientation(
    most_oriented: dict[int, float], method: dict[str, object]
) -> None:
    spec = RenderSpec(
        model="vgg16",
        weights=HED_BSDS500,
        layer=LAYER,
        filters=tuple(most_oriented),
        image_size=64,
        snapshots=(),
        batch_size=CHECKED_FILTERS,
        **method,  # type: ignore[arg-type]
    )
    for result in render(spec).filters:
        assert result.final is not None
        found, strength = mean_orientation(result.final.rgb / 255.0)
        expected = most_oriented[result.filter]
        assert angular_distance(found, expected) <= TOLERANCE_DEGREES, (
            f"filter {result.filter}: kernel {expected:.1f} deg, picture {found:.1f} deg"
        )
        assert strength > 0.2, f"filter {result.filter}: picture hardly oriented ({strength:.2f})"
