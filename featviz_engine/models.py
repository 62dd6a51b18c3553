"""Model catalog: which networks featviz can visualise, and how they are loaded.

The optimiser always works in one image space, ``[-1, 1]`` RGB (the space of the seed's
ResNet50V2). Each model declares how that space maps to its own input, and the mapping runs
inside the graph, so gradients flow through it. Models and feature extractors are built once per
process and cached (``featviz_engine.caches``, which also forgets them).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import keras
import tensorflow as tf

from featviz_engine import caches
from featviz_engine.cpu import this_cpu
from featviz_engine.errors import SpecError, WeightsUnavailableError
from featviz_engine.objectives import min_map_size
from featviz_engine.trained_weights import HED, HED_BSDS500, TrainedWeights

Weights = Literal["imagenet", "random", "hed-bsds500"]
WEIGHTS: tuple[Weights, ...] = ("imagenet", "random", HED_BSDS500)
"""Every weights name; ``imagenet`` and ``random`` exist for every catalog model, the others
(trained weights that can be had offline) for the models whose ``trained_weights`` name them."""

# Keras initialisers draw from its global seed: fixing it makes "random" weights the same network
# in every process, so a job's images do not depend on which worker ran it.
RANDOM_WEIGHTS_SEED = 0

_IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
_IMAGENET_STD_RGB = (0.229, 0.224, 0.225)
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


def _identity(images: tf.Tensor) -> tf.Tensor:
    return images


def _caffe(images: tf.Tensor) -> tf.Tensor:
    """[-1, 1] RGB to the caffe convention: [0, 255] BGR minus the ImageNet mean."""
    pixels = (images + 1.0) * 127.5
    return pixels[..., ::-1] - tf.constant(_CAFFE_MEAN_BGR, tf.float32)


def _torch(images: tf.Tensor) -> tf.Tensor:
    """[-1, 1] RGB to the torch convention: [0, 1] standardised by the ImageNet mean and std."""
    unit = (images + 1.0) * 0.5
    mean = tf.constant(_IMAGENET_MEAN_RGB, tf.float32)
    std = tf.constant(_IMAGENET_STD_RGB, tf.float32)
    return (unit - mean) / std


def _unit_range(images: tf.Tensor) -> tf.Tensor:
    """[-1, 1] RGB to [0, 1] RGB."""
    return (images + 1.0) * 0.5


def _pixel_range(images: tf.Tensor) -> tf.Tensor:
    """[-1, 1] RGB to [0, 255] RGB."""
    return (images + 1.0) * 127.5


INPUT_MAPPINGS: dict[str, Callable[[tf.Tensor], tf.Tensor]] = {
    "[0,1]": _unit_range,
    "[-1,1]": _identity,
    "[0,255]": _pixel_range,
    "caffe": _caffe,
    "torch": _torch,
    "tf": _identity,  # keras.applications' "tf" mode scales to [-1, 1]
}
"""The input ranges an uploaded model may declare (``featviz.model_files.INPUT_RANGES``), each
as the mapping from the optimiser's [-1, 1] RGB space to it."""


@dataclass(frozen=True)
class ModelSpec:
    """One entry of the catalog.

    Attributes
    ----------
    name
        The catalog name used in job specs.
    builder
        The ``keras.applications`` constructor.
    input_size
        The size the ImageNet weights were trained at (the default image size).
    min_input_size
        The smallest image the network accepts.
    preprocessing
        Name of the mapping from the optimiser's [-1, 1] RGB space to the model input.
    to_model_input
        That mapping, as graph ops.
    imagenet_weights_file
        The file Keras caches the no-top ImageNet weights under, in ``$KERAS_HOME/models``.
    trained_weights
        Other trained weights for the model without its head, by name.
    """

    name: str
    builder: Callable[..., keras.Model]
    input_size: int
    min_input_size: int
    preprocessing: str
    to_model_input: Callable[[tf.Tensor], tf.Tensor]
    imagenet_weights_file: str
    trained_weights: dict[str, TrainedWeights] = field(default_factory=dict)

    @property
    def weights(self) -> tuple[Weights, ...]:
        """The weights this model can be loaded with."""
        return tuple(w for w in WEIGHTS if w in ("imagenet", "random") or w in self.trained_weights)


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "resnet50v2",
            keras.applications.ResNet50V2,
            224,
            32,
            "identity ([-1, 1] RGB, as the seed)",
            _identity,
            "resnet50v2_weights_tf_dim_ordering_tf_kernels_notop.h5",
        ),
        ModelSpec(
            "vgg16",
            keras.applications.VGG16,
            224,
            32,
            "caffe ([0, 255] BGR minus the ImageNet mean)",
            _caffe,
            "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
            {HED_BSDS500: HED},
        ),
        ModelSpec(
            "mobilenetv2",
            keras.applications.MobileNetV2,
            224,
            32,
            "identity ([-1, 1] RGB)",
            _identity,
            "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5",
        ),
        ModelSpec(
            "inceptionv3",
            keras.applications.InceptionV3,
            299,
            75,
            "identity ([-1, 1] RGB)",
            _identity,
            "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
        ),
        ModelSpec(
            "densenet121",
            keras.applications.DenseNet121,
            224,
            32,
            "torch ([0, 1] RGB standardised by the ImageNet mean and std)",
            _torch,
            "densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5",
        ),
    )
}


@dataclass(frozen=True)
class LayerInfo:
    """A layer that can be visualised: its output is a 4-D (batch, height, width, channels) map."""

    name: str
    channels: int


def model_spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise SpecError("model", f"unknown model {name!r}; known: {', '.join(MODELS)}") from None


def keras_cache_dir() -> Path:
    """Where Keras caches downloaded weights (``$KERAS_HOME/models``, default ``~/.keras``)."""
    keras_home = os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras"))
    return Path(keras_home) / "models"


Precision = Literal["float32", "bfloat16", "float16"]
PRECISIONS: tuple[Precision, ...] = ("float32", "bfloat16", "float16")
_POLICIES: dict[Precision, str] = {
    "float32": "float32",
    "bfloat16": "mixed_bfloat16",
    "float16": "mixed_float16",
}
EMULATED_BFLOAT16 = (
    "bfloat16 on a CPU without bfloat16 instructions (AVX512_BF16, AMX or Arm's BF16): "
    "TensorFlow emulates them, and the network runs several times slower than in float32 "
    "(9.3x on an AMD EPYC with AVX2 only); float32 is the faster choice here"
)

log = logging.getLogger(__name__)


def emulates_bfloat16() -> bool:
    """The network would run on a CPU that has no bfloat16 instructions (one whose flags are
    unknown is not presumed to lack them)."""
    return not tf.config.list_physical_devices("GPU") and this_cpu().computes_bfloat16 is False


@dataclass(frozen=True)
class Network:
    """A model to optimise against.

    Attributes
    ----------
    model
        The Keras model (without its head unless built for class logits).
    to_model_input
        The mapping from the optimiser's [-1, 1] RGB space to the model's input.
    input_size
        The one image size the model accepts, when it has dense layers; None when any size goes.
    min_input_size
        The smallest image the network accepts.
    """

    model: keras.Model
    to_model_input: Callable[[tf.Tensor], tf.Tensor]
    input_size: int | None
    min_input_size: int


OFFLINE_ENV = "FEATVIZ_OFFLINE"
"""Set to 1 where weights must never be downloaded (workers have them baked in)."""


def _weights_unavailable(
    spec: ModelSpec, weights_file: str, reason: str
) -> WeightsUnavailableError:
    cache_file = keras_cache_dir() / weights_file
    return WeightsUnavailableError(
        f"ImageNet weights for {spec.name} are not available ({reason}). Keras looks for "
        f"{cache_file}: copy {weights_file} there, or set KERAS_HOME to a folder whose models/ "
        "holds it; `python scripts/fetch_weights.py` downloads every catalog model's weights "
        "on a machine with internet access."
    )


def _top_weights_file(spec: ModelSpec) -> str:
    return spec.imagenet_weights_file.replace("_notop", "").replace("_no_top", "")


def missing_weights(
    spec: ModelSpec, weights: Weights, include_top: bool = False
) -> WeightsUnavailableError | None:
    """Why ``weights`` cannot be had here, found by looking for their file, without building
    the model: None when they are here, or may be downloaded (ImageNet's, unless
    ``FEATVIZ_OFFLINE=1``). The one rule for both loading (``load_network``) and what a worker
    publishes it can serve (``available_weights``)."""
    if weights == "random":
        return None
    if weights in spec.trained_weights:
        try:
            spec.trained_weights[weights].locate()
        except WeightsUnavailableError as error:
            return error
        return None
    weights_file = _top_weights_file(spec) if include_top else spec.imagenet_weights_file
    if (keras_cache_dir() / weights_file).is_file() or os.environ.get(OFFLINE_ENV) != "1":
        return None
    return _weights_unavailable(
        spec, weights_file, f"not cached, and {OFFLINE_ENV}=1 forbids downloading"
    )


def available_weights(spec: ModelSpec) -> tuple[Weights, ...]:
    """The weights of ``spec`` (without its head) that can be had here (``missing_weights``)."""
    return tuple(weights for weights in spec.weights if missing_weights(spec, weights) is None)


def _build(spec: ModelSpec, weights: Weights, include_top: bool = False) -> keras.Model:
    shape = (spec.input_size, spec.input_size, 3) if include_top else (None, None, 3)
    options: dict[str, object] = {"include_top": include_top, "input_shape": shape}
    if include_top:
        options["classifier_activation"] = None  # logits, not probabilities
    if weights in spec.trained_weights and include_top:
        raise SpecError(
            "weights", f"{weights!r} has no ImageNet head; class_logit needs imagenet weights"
        )
    missing = missing_weights(spec, weights, include_top)
    if missing is not None:
        raise missing
    if weights == "random":
        keras.utils.set_random_seed(RANDOM_WEIGHTS_SEED)
        return spec.builder(weights=None, **options)
    if weights in spec.trained_weights:
        model = spec.builder(weights=None, **options)
        spec.trained_weights[weights].load_into(model)
        return model
    try:
        return spec.builder(weights="imagenet", **options)
    except Exception as error:  # Keras raises a bare Exception when the download fails.
        weights_file = _top_weights_file(spec) if include_top else spec.imagenet_weights_file
        raise _weights_unavailable(spec, weights_file, f"download failed: {error}") from error


def register_network(
    name: str, model: keras.Model, to_model_input: Callable[[tf.Tensor], tf.Tensor]
) -> Network:
    """Make a model that is not in the catalog (trained here, uploaded) available by name.

    Its ``weights`` are its own: the spec's ``weights`` field is ignored for it.
    ``caches.forget_model`` forgets it.
    """
    height, width = model.input_shape[1:3]
    network = Network(model, to_model_input, height if height == width else None, 8)
    with caches.lock:
        caches.registered[name] = network
    return network


def is_registered(name: str) -> bool:
    return name in caches.registered


def load_network(
    name: str, weights: Weights, precision: Precision = "float32", include_top: bool = False
) -> Network:
    """The network for a catalog or registered model, built once per process.

    Catalog models without their head leave ``input_shape`` open, so one network serves every
    image size. Reduced precision runs the layers in bfloat16 or float16 with float32 weights
    (Keras mixed precision); each precision is its own cached network.
    """
    if name in caches.registered:
        return caches.registered[name]
    spec = model_spec(name)
    if weights not in spec.weights:
        raise SpecError("weights", f"{name} has weights {spec.weights}, got {weights!r}")
    if precision not in PRECISIONS:
        raise SpecError("precision", f"precision must be one of {PRECISIONS}, got {precision!r}")

    def build() -> Network:
        if precision == "bfloat16" and emulates_bfloat16():
            log.warning(EMULATED_BFLOAT16)
        previous = keras.mixed_precision.dtype_policy()
        keras.mixed_precision.set_dtype_policy(_POLICIES[precision])
        try:
            model = _build(spec, weights, include_top)
        finally:
            keras.mixed_precision.set_dtype_policy(previous)
        fixed = spec.input_size if include_top else None
        return Network(model, spec.to_model_input, fixed, spec.min_input_size)

    return caches.cached(caches.networks, (name, weights, precision, include_top), build)


def load_model(name: str, weights: Weights) -> keras.Model:
    """The float32 model without its head (see ``load_network``)."""
    return load_network(name, weights).model


def list_layers(model: keras.Model) -> list[LayerInfo]:
    """Layers whose output is a 4-D feature map, in network order, with their channel counts."""
    layers = []
    for layer in model.layers:
        output = layer.output
        if isinstance(output, list | tuple) or isinstance(layer, keras.layers.InputLayer):
            continue
        shape = output.shape
        if len(shape) == 4 and shape[-1] is not None:
            layers.append(LayerInfo(layer.name, int(shape[-1])))
    return layers


def smallest_image_sizes(
    model: keras.Model, layer_names: list[str], first_size: int, last_size: int
) -> dict[str, int]:
    """Per layer, the smallest square image size (from ``first_size`` to ``last_size``) whose
    activation map is at least 5x5; layers too small even at ``last_size`` are left out."""
    outputs = [model.get_layer(name).output for name in layer_names]
    probe = keras.Model(inputs=model.inputs, outputs=outputs)

    def large_enough(size: int) -> set[str]:
        shapes = probe.compute_output_shape((1, size, size, 3))
        return {
            name
            for name, shape in zip(layer_names, shapes, strict=True)
            if min(shape[1], shape[2]) >= min_map_size()
        }

    found: dict[str, int] = {}

    # Map sizes only grow with the image, so each layer's minimum can be bisected, and one probe
    # of the network answers for all its layers: a probe splits the layers between the halves
    # that hold their minimums. A few dozen probes instead of one per size (hundreds, seconds
    # each on the deep catalog networks).
    def bisect(low: int, high: int, names: set[str]) -> None:
        if not names:
            return
        if low == high:
            found.update(dict.fromkeys(names, low))
            return
        middle = (low + high) // 2
        reached = large_enough(middle) & names
        bisect(low, middle, reached)
        bisect(middle + 1, high, names - reached)

    bisect(first_size, last_size, large_enough(last_size))
    return {name: found[name] for name in layer_names if name in found}


def layer_output(model: keras.Model, layer: str) -> keras.KerasTensor:
    """The output of the layer a render visualises: one 4-D (batch, height, width, channels) map.

    Raises
    ------
    SpecError
        When the model has no such layer, or its output is no 4-D map (a user's file may name
        a dense layer that no catalog lists).
    """
    try:
        output = model.get_layer(name=layer).output
    except ValueError:
        raise SpecError("layer", f"the model has no layer {layer!r}") from None
    if isinstance(output, list | tuple) or len(output.shape) != 4:
        raise SpecError(
            "layer",
            f"layer {layer!r} has no 4-D (batch, height, width, channels) output to visualise",
        )
    return output


def extractor_for(network: Network, layers: tuple[str, ...]) -> keras.Model:
    """A model from the network's input to the named layers' outputs (the model's own output
    for the name ``""``), cached per process."""

    def build() -> keras.Model:
        outputs = [
            layer_output(network.model, layer) if layer else network.model.output
            for layer in layers
        ]
        return keras.Model(inputs=network.model.inputs, outputs=outputs)

    return caches.cached(caches.extractors, (id(network.model), layers), build)


def feature_extractor(name: str, weights: Weights, layer: str) -> keras.Model:
    """A float32 model from the network input to one 4-D layer's activations, cached."""
    return extractor_for(load_network(name, weights), (layer,))


@tf.custom_gradient  # type: ignore[untyped-decorator]
def redirected_relu(x: tf.Tensor) -> tuple[tf.Tensor, Callable[[tf.Tensor], tf.Tensor]]:
    """ReLU whose gradient also flows where the unit is off, if ascent would switch it on.

    Lucid's ``redirected_relu_grad`` for an objective that is maximised: where ``x <= 0`` the
    upstream gradient passes when it is positive (raising ``x`` would raise the objective), so a
    filter that is dead at the start image still gets a direction to move in.
    """

    def gradient(upstream: tf.Tensor) -> tf.Tensor:
        passes = tf.logical_or(x > 0, upstream > 0)
        return tf.where(passes, upstream, tf.zeros_like(upstream))

    return tf.nn.relu(x), gradient


def _with_redirected_relu(layer: keras.layers.Layer) -> keras.layers.Layer:
    """A fresh copy of ``layer`` (same config), its ``"relu"`` activation, if any, redirected.

    Capped ReLUs (MobileNetV2's ``ReLU(6)`` layers) are left as they are.
    """
    config = layer.get_config()
    if config.get("activation") == "relu":
        config["activation"] = redirected_relu
    return layer.__class__.from_config(config)


def redirected_relu_network(network: Network) -> Network:
    """The network with every ReLU redirected (same weights), for a warm-up; cached."""

    def build() -> Network:
        clone = keras.models.clone_model(network.model, clone_function=_with_redirected_relu)
        clone.set_weights(network.model.get_weights())
        return replace(network, model=clone)

    return caches.cached(caches.redirected, id(network.model), build)


def _is_plain_relu(layer: keras.layers.Layer) -> bool:
    config = layer.get_config()
    if isinstance(layer, keras.layers.ReLU):
        return config.get("max_value") is None and not config.get("negative_slope")
    return isinstance(layer, keras.layers.Activation) and config.get("activation") == "relu"


def ends_in_relu(network: Network, layer: str) -> bool:
    """Whether the layer's output is the ReLU of what ``pre_activation_extractor`` returns."""
    target = network.model.get_layer(name=layer)
    return _is_plain_relu(target) or target.get_config().get("activation") == "relu"


def pre_activation_extractor(network: Network, layer: str) -> keras.Model:
    """A model from the network's input to the layer's output before its ReLU, cached.

    A layer with a built-in ``relu`` activation (VGG16's convolutions) is recomputed by a copy
    with a linear activation and the same weights; a ReLU layer's pre-activation is its input;
    any other layer's output is returned as it is.
    """

    def build() -> keras.Model:
        target = network.model.get_layer(name=layer)
        if _is_plain_relu(target):
            output = target.input
        elif target.get_config().get("activation") == "relu":
            linear = target.__class__.from_config({**target.get_config(), "activation": "linear"})
            output = linear(target.input)
            linear.set_weights(target.get_weights())
        else:
            output = target.output
        return keras.Model(inputs=network.model.inputs, outputs=output)

    return caches.cached(caches.extractors, (id(network.model), ("pre-activation", layer)), build)
