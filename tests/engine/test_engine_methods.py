"""Beyond the seed: parameterisations, transforms, optimisers, objectives, precision."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from featviz.fields import DEFAULT_LEARNING_RATES, SPECTRAL_NORMALIZED_GRADIENT_RATE
from featviz_engine import objectives, optimizers, parameterizations, transforms
from featviz_engine.errors import SpecError
from featviz_engine.regularizers import gaussian_blur
from featviz_engine.render import render
from featviz_engine.spec import RenderSpec

SMALL: dict[str, object] = {
    "weights": "random",
    "layer": "conv3_block1_out",
    "filters": (3, 7),
    "iterations": 8,
    "snapshots": (0,),
    "image_size": 64,
    "tv_start": 2,
}


def small_spec(**changes: object) -> RenderSpec:
    return RenderSpec(**{**SMALL, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize("name", parameterizations.PARAMETERIZATIONS)
def test_parameterizations_give_images_in_range(
    name: parameterizations.ParameterizationName,
) -> None:
    parameterization = parameterizations.parameterization(name, 48)
    variables = parameterization.initial(seed=3, image_size=48, batch=2)
    images = parameterization.to_image(tf.constant(variables)).numpy()
    assert images.shape == (2, 48, 48, 3)
    assert np.isfinite(images).all()
    assert images.min() >= -1.0
    assert images.max() <= 1.0
    np.testing.assert_array_equal(images[0], images[1])  # same start for every batch position
    again = parameterization.initial(seed=3, image_size=48, batch=1)
    np.testing.assert_array_equal(again[0], variables[0])


def test_fourier_start_has_less_high_frequency_energy_than_pixel_noise() -> None:
    from featviz_engine.metrics import high_frequency_fraction

    fourier = parameterizations.parameterization("fourier", 64)
    image = fourier.to_image(tf.constant(fourier.initial(0, 64, 1))).numpy()[0]
    pixel = parameterizations.parameterization("pixel", 64).initial(0, 64, 1)[0]
    assert high_frequency_fraction((image + 1) / 2) < 0.5 * high_frequency_fraction(pixel + 0.5)


@pytest.mark.parametrize("name", ["fourier", "magnitude_constrained"])
def test_a_steeper_spectrum_decay_gives_a_smoother_image(
    name: parameterizations.ParameterizationName,
) -> None:
    from featviz_engine.metrics import high_frequency_fraction

    def start_image(decay: float) -> np.ndarray:
        spectrum = parameterizations.parameterization(name, 64, decay)
        # A start far from grey, so that the spectrum's shape, not the sigmoid, decides.
        variables = 30 * spectrum.initial(0, 64, 1)
        image: np.ndarray = spectrum.to_image(tf.constant(variables)).numpy()[0]
        return image

    np.testing.assert_array_equal(
        start_image(1.0),
        parameterizations.parameterization(name, 64).to_image(
            tf.constant(30 * parameterizations.parameterization(name, 64).initial(0, 64, 1))
        )[0],
    )
    smooth, default = (high_frequency_fraction((start_image(d) + 1) / 2) for d in (1.5, 1.0))
    assert smooth < 0.5 * default


def test_transforms_are_seeded_and_keep_a_fixed_shape() -> None:
    settings = transforms.TRANSFORM_PRESETS["standard"]
    images = tf.random.stateless_uniform([2, 40, 40, 3], [1, 2])
    first = transforms.apply(images, settings, tf.constant([0, 5]))
    again = transforms.apply(images, settings, tf.constant([0, 5]))
    other = transforms.apply(images, settings, tf.constant([0, 6]))
    assert first.shape == (2, settings.output_size(40), settings.output_size(40), 3)
    np.testing.assert_array_equal(first.numpy(), again.numpy())
    assert not np.array_equal(first.numpy(), other.numpy())
    assert settings.output_size(40) == 40 + 24 - 8 - 4


def test_transforms_let_gradients_through() -> None:
    images = tf.random.stateless_uniform([1, 32, 32, 3], [1, 2])
    with tf.GradientTape() as tape:
        tape.watch(images)
        out = transforms.apply(
            images, transforms.TRANSFORM_PRESETS["standard"], tf.constant([0, 1])
        )
        total = tf.reduce_sum(out)
    gradient = tape.gradient(total, images)
    assert gradient is not None
    assert float(tf.reduce_sum(tf.abs(gradient))) > 0


def test_adam_ascends_a_concave_function() -> None:
    adam = optimizers.optimizer("adam")
    x = tf.constant([[3.0, -2.0]])
    state = adam.initial_state(x)
    for _ in range(300):
        x, state = adam.update(x, -2 * x, tf.constant([0.05]), state)  # gradient of -x^2
    assert float(tf.reduce_max(tf.abs(x))) < 0.1


def test_normalized_gradient_steps_each_image_by_its_learning_rate() -> None:
    step = optimizers.optimizer("normalized_gradient")
    x = tf.zeros([2, 3])
    moved, _ = step.update(
        x, tf.constant([[3.0, 4.0, 0.0], [0.0, 0.0, 9.0]]), tf.constant([1.0, 2.0]), ()
    )
    np.testing.assert_allclose(np.linalg.norm(moved.numpy(), axis=1), [1.0, 2.0], rtol=1e-6)


def test_gaussian_blur_keeps_mean_and_lowers_variation() -> None:
    images = tf.random.stateless_uniform([1, 32, 32, 3], [4, 2])
    blurred = gaussian_blur(images, 1.0).numpy()
    assert blurred.shape == (1, 32, 32, 3)
    assert abs(blurred.mean() - float(tf.reduce_mean(images))) < 1e-2
    assert (
        np.abs(np.diff(blurred, axis=1)).mean()
        < 0.5 * np.abs(np.diff(images.numpy(), axis=1)).mean()
    )


def context(
    activations: np.ndarray, targets: list[int], logits: np.ndarray | None = None
) -> objectives.Context:
    images = tf.zeros([activations.shape[0], 4, 4, 3])
    return objectives.Context(
        tf.constant(activations, tf.float32),
        None if logits is None else tf.constant(logits, tf.float32),
        tf.constant(targets, tf.int32),
        images,
    )


def test_objectives_add_and_scale() -> None:
    activations = np.zeros((2, 7, 7, 4), np.float32)
    activations[0, 2:5, 2:5, 1] = 2.0  # interior of channel 1
    activations[1, 3, 3, 2] = 9.0  # centre of channel 2
    ctx = context(activations, [1, 2])
    np.testing.assert_allclose(objectives.channel()(ctx).numpy(), [2.0, 1.0])
    np.testing.assert_allclose(objectives.neuron()(ctx).numpy(), [2.0, 9.0])
    combined = objectives.channel() + 0.5 * objectives.neuron()
    np.testing.assert_allclose(combined(ctx).numpy(), [3.0, 5.5])
    np.testing.assert_allclose(
        (objectives.channel() - objectives.neuron())(ctx).numpy(), [0.0, -8.0]
    )
    assert combined.name == "channel + 0.5 * neuron"


def test_direction_and_class_logit() -> None:
    activations = np.zeros((1, 7, 7, 2), np.float32)
    activations[..., 0] = 3.0
    activations[..., 1] = 4.0
    ctx = context(activations, [1], logits=np.array([[0.5, 7.0]]))
    np.testing.assert_allclose(objectives.direction([3.0, 4.0])(ctx).numpy(), [5.0], rtol=1e-6)
    np.testing.assert_allclose(objectives.class_logit()(ctx).numpy(), [7.0])


def test_diversity_rewards_different_images() -> None:
    rng = np.random.default_rng(0)
    same = np.repeat(rng.random((1, 6, 6, 4), np.float32), 2, axis=0)
    different = rng.random((2, 6, 6, 4)).astype(np.float32)
    different[1] = different[1][..., ::-1] ** 4
    assert float(objectives.diversity()(context(same, [0, 0]))[0]) == pytest.approx(-1.0, abs=1e-5)
    assert float(objectives.diversity()(context(different, [0, 0]))[0]) > -1.0 + 1e-3


@pytest.mark.parametrize(
    "changes",
    [
        {"parameterization": "fourier", "optimizer": "adam"},
        {"parameterization": "magnitude_constrained", "optimizer": "adam"},
        {"objective": (("neuron", 1.0), ("channel", 0.5)), "l2_weight": 0.1, "blur_every": 2},
        {"diversity_weight": 1.0, "l1_weight": 0.05},
    ],
)
def test_methods_render_finite_images_and_raise_activation(changes: dict[str, object]) -> None:
    result = render(small_spec(**changes))
    for filter_result in result.filters:
        assert filter_result.final is not None
        assert np.isfinite(filter_result.final.metrics["activation"])
        assert (
            filter_result.final.metrics["activation"]
            > filter_result.snapshots[0].metrics["activation"]
        )


def test_transforms_render_reproducibly() -> None:
    spec = small_spec(parameterization="fourier", optimizer="adam", transforms="standard")
    first, second = render(spec), render(spec)
    for a, b in zip(first.filters, second.filters, strict=True):
        assert a.final is not None
        assert b.final is not None
        np.testing.assert_array_equal(a.final.rgb, b.final.rgb)
        assert not np.array_equal(a.final.rgb, a.snapshots[0].rgb)


def test_direction_render() -> None:
    vector = tuple(float(v) for v in np.random.default_rng(0).normal(size=512))
    result = render(small_spec(direction=vector, filters=(0,)))
    final = result.filters[0].final
    assert final is not None
    assert final.metrics["activation"] > result.filters[0].snapshots[0].metrics["activation"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"parameterization": "fourier", "tv_weight": 0.001}, "tv_weight"),
        ({"parameterization": "fourier", "blur_every": 3}, "blur_every"),
        ({"parameterization": "wavelet"}, "parameterization"),
        ({"optimizer": "sgd"}, "optimizer"),
        ({"transforms": "heavy"}, "transforms"),
        ({"transforms": "standard", "transform_jitter": -1}, "transform_jitter"),
        ({"objective": (("sparkle", 1.0),)}, "objective"),
        ({"objective": (("channel", float("nan")),)}, "objective"),
        ({"direction": (1.0, 2.0)}, "direction"),
        ({"direction": (0.0,) * 512}, "direction"),
        ({"diversity_weight": -1.0}, "diversity_weight"),
        ({"precision": "int8"}, "precision"),
        ({"objective": (("class_logit", 1.0),)}, "image_size"),
        ({"objective": (("class_logit", 1.0),), "image_size": 224, "filters": (1000,)}, "filters"),
    ],
)
def test_bad_method_fields_are_named(changes: dict[str, object], field: str) -> None:
    with pytest.raises(SpecError) as error:
        render(small_spec(**changes))
    assert error.value.field == field


def test_defaults_follow_the_optimizer_and_parameterization() -> None:
    adam = small_spec(optimizer="adam", parameterization="fourier").resolved()
    assert adam.learning_rate == DEFAULT_LEARNING_RATES["adam"]
    assert adam.tv_weight == 0.0
    seed = small_spec().resolved()
    assert (seed.learning_rate, seed.tv_weight) == (2.0, 0.0005)
    spectral = small_spec(parameterization="fourier").resolved()
    assert spectral.learning_rate == SPECTRAL_NORMALIZED_GRADIENT_RATE
