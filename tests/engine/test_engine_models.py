"""The model catalog: layers, input mappings, weight loading."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from featviz_engine import models
from featviz_engine.errors import WeightsUnavailableError

KERAS_PREPROCESSING = {
    "resnet50v2": keras.applications.resnet_v2.preprocess_input,
    "vgg16": keras.applications.vgg16.preprocess_input,
    "mobilenetv2": keras.applications.mobilenet_v2.preprocess_input,
    "inceptionv3": keras.applications.inception_v3.preprocess_input,
    "densenet121": keras.applications.densenet.preprocess_input,
}


def test_catalog_has_the_seed_models_and_more() -> None:
    assert {"resnet50v2", "vgg16"} <= set(models.MODELS)
    assert len(models.MODELS) >= 4


@pytest.mark.parametrize("name", sorted(KERAS_PREPROCESSING))
def test_input_mapping_matches_keras_preprocessing(name: str) -> None:
    """[-1, 1] images mapped in-graph equal Keras' own preprocessing of the same pixels."""
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, size=(2, 8, 8, 3)).astype(np.float32)
    pixels = (images + 1.0) * 127.5
    expected = KERAS_PREPROCESSING[name](pixels.copy())
    mapped = models.MODELS[name].to_model_input(images)
    np.testing.assert_allclose(np.asarray(mapped), expected, atol=1e-4, rtol=1e-5)


def test_resnet50v2_mapping_is_identity_so_seed_numbers_hold() -> None:
    images = np.linspace(-1, 1, 48, dtype=np.float32).reshape(1, 4, 4, 3)
    np.testing.assert_array_equal(
        np.asarray(models.MODELS["resnet50v2"].to_model_input(images)), images
    )


@pytest.mark.parametrize(
    ("name", "layer", "channels"),
    [
        ("resnet50v2", "conv5_block1_out", 2048),
        ("vgg16", "block5_conv3", 512),
        ("vgg16", "block2_conv2", 128),
        ("mobilenetv2", "block_16_project", 320),
    ],
)
def test_layers_list_channel_counts(name: str, layer: str, channels: int) -> None:
    layers = {
        info.name: info.channels for info in models.list_layers(models.load_model(name, "random"))
    }
    assert layers[layer] == channels
    assert "input_layer" not in " ".join(layers)


def test_models_are_cached_per_process() -> None:
    assert models.load_model("vgg16", "random") is models.load_model("vgg16", "random")
    first = models.feature_extractor("vgg16", "random", "block2_conv2")
    assert first is models.feature_extractor("vgg16", "random", "block2_conv2")


def test_random_weights_are_the_same_network_every_time() -> None:
    spec = models.MODELS["vgg16"]
    first = models._build(spec, "random").get_weights()
    second = models._build(spec, "random").get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))


def test_missing_imagenet_weights_name_the_cache_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setenv(models.OFFLINE_ENV, "1")
    with pytest.raises(WeightsUnavailableError) as error:
        models._build(models.MODELS["resnet50v2"], "imagenet")
    message = str(error.value)
    assert f"{tmp_path}/models/resnet50v2_weights_tf_dim_ordering_tf_kernels_notop.h5" in message
    assert "scripts/fetch_weights.py" in message


def test_available_weights_follow_the_cache_and_the_offline_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a worker publishes it can serve: found by file, the same rule as loading."""
    spec = models.MODELS["resnet50v2"]
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setenv(models.OFFLINE_ENV, "1")
    assert models.available_weights(spec) == ("random",)
    assert models.missing_weights(spec, "imagenet", include_top=True) is not None
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / spec.imagenet_weights_file).touch()
    assert models.available_weights(spec) == ("imagenet", "random")
    assert models.missing_weights(spec, "imagenet", include_top=True) is not None, "no head file"
    monkeypatch.delenv(models.OFFLINE_ENV)
    assert models.missing_weights(spec, "imagenet", include_top=True) is None, "downloadable"


def test_trained_weights_are_available_only_with_their_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from importlib import metadata

    from featviz_engine import trained_weights

    spec = models.MODELS["vgg16"]
    monkeypatch.setenv(models.OFFLINE_ENV, "1")
    monkeypatch.setenv("KERAS_HOME", "/nonexistent")
    try:
        metadata.distribution(trained_weights.HED_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        assert models.available_weights(spec) == ("random",)
    else:
        assert models.available_weights(spec) == ("random", trained_weights.HED_BSDS500)

    def not_installed(name: str) -> metadata.Distribution:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(trained_weights.metadata, "distribution", not_installed)
    assert models.available_weights(spec) == ("random",)
    missing = models.missing_weights(spec, trained_weights.HED_BSDS500)
    assert missing is not None
    assert "featviz[trained]" in str(missing)


def test_a_cpu_runs_every_precision() -> None:
    from featviz_engine import devices

    if devices.gpu_count():
        pytest.skip("a GPU is visible; the CPU rule is not what this process uses")
    assert devices.supported_precisions() == models.PRECISIONS


@pytest.mark.parametrize(
    ("flags", "warns"), [({"avx2", "fma"}, True), ({"avx2", "avx512_bf16"}, False)]
)
def test_bfloat16_on_a_cpu_without_its_instructions_is_said_to_be_slow(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    flags: set[str],
    warns: bool,
) -> None:
    """TensorFlow emulates bfloat16 on such a CPU, at several times float32's time: a user who
    asked for it for speed is told so when the network is built."""
    from featviz_engine import caches, devices
    from featviz_engine.cpu import CPU

    if devices.gpu_count():
        pytest.skip("a GPU is visible; networks run there")
    monkeypatch.setattr(models, "this_cpu", lambda: CPU("a CPU", "25", "1", frozenset(flags)))
    caches.forget_model("mobilenetv2")
    try:
        with caplog.at_level("WARNING", logger=models.__name__):
            models.load_network("mobilenetv2", "random", "bfloat16")
            models.load_network("mobilenetv2", "random", "float32")
    finally:
        caches.forget_model("mobilenetv2")
    warnings = [record.getMessage() for record in caplog.records]
    assert warnings == ([models.EMULATED_BFLOAT16] if warns else [])
