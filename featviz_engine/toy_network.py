"""A small CNN trained here on procedurally drawn patterns: a network whose answer is known.

Its classes are gratings at four orientations, checkerboards and rings. A visualisation of the
"vertical grating" class should therefore be made of vertical stripes, whose spectrum peaks on the
horizontal frequency axis. Training is seeded and takes well under a minute on two CPU cores; the
trained model is cached as a file so that tests and benchmarks train it once.

The network ends in global average pooling, so it accepts any image size (transforms pad and crop)
and its class logits are its output. It sees images in the optimiser's [-1, 1] space directly.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from featviz_engine.models import Network, register_network

NETWORK_NAME = "toy_patterns"
"""The name a ``RenderSpec.model`` uses for the trained network once it is registered."""

GRATING_ANGLES = (0, 45, 90, 135)
"""Orientation of each grating class's stripes, in degrees: 0 is vertical, 90 horizontal."""

CLASSES = (
    *(f"grating_{angle}" for angle in GRATING_ANGLES),
    "checkerboard",
    "rings",
)
FEATURE_LAYER = "features"
"""The last convolutional layer (before pooling); class logits need a layer name beside them."""


@dataclass(frozen=True)
class TrainingSettings:
    """What the cached model depends on; any change trains a new one."""

    image_size: int = 32
    images_per_class: int = 800
    epochs: int = 6
    batch_size: int = 64
    learning_rate: float = 0.003
    min_period: float = 4.0
    max_period: float = 10.0
    noise: float = 0.15
    seed: int = 0
    version: int = 1

    def cache_key(self) -> str:
        text = json.dumps({"classes": CLASSES, **asdict(self)}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def grating_orientation(class_name: str) -> float | None:
    """Stripe orientation of a grating class in degrees (0 = vertical), or None."""
    if not class_name.startswith("grating_"):
        return None
    return float(class_name.removeprefix("grating_"))


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    coordinates = np.arange(size, dtype=np.float64) - (size - 1) / 2
    x, y = np.meshgrid(coordinates, coordinates)
    return x, y


def draw_pattern(
    class_index: int, size: int, rng: np.random.Generator, settings: TrainingSettings
) -> np.ndarray:
    """One ``(size, size)`` pattern of a class in [-1, 1], random period, phase and contrast."""
    x, y = _grid(size)
    period = rng.uniform(settings.min_period, settings.max_period)
    phase = rng.uniform(0, 2 * math.pi)
    name = CLASSES[class_index]
    angle = grating_orientation(name)
    if angle is not None:
        # Vertical stripes (0 degrees) vary along x: the wave vector is normal to the stripes.
        theta = math.radians(angle)
        along = x * math.cos(theta) + y * math.sin(theta)
        pattern = np.sin(2 * math.pi * along / period + phase)
    elif name == "checkerboard":
        pattern = np.sign(np.sin(2 * math.pi * x / period + phase)) * np.sign(
            np.sin(2 * math.pi * y / period + rng.uniform(0, 2 * math.pi))
        )
    else:
        centre = rng.uniform(-size / 4, size / 4, 2)
        radius = np.hypot(x - centre[0], y - centre[1])
        pattern = np.sin(2 * math.pi * radius / period + phase)
    contrast = rng.uniform(0.4, 1.0)
    return contrast * pattern


def dataset(settings: TrainingSettings) -> tuple[np.ndarray, np.ndarray]:
    """Colour images ``(N, S, S, 3)`` in [-1, 1] and their labels, from the settings' seed.

    Each image is one pattern in a random colour, on a random grey level, plus pixel noise.
    """
    rng = np.random.default_rng(settings.seed)
    size = settings.image_size
    count = settings.images_per_class * len(CLASSES)
    labels = np.repeat(np.arange(len(CLASSES)), settings.images_per_class)
    rng.shuffle(labels)
    images = np.empty((count, size, size, 3), np.float32)
    for index, label in enumerate(labels):
        pattern = draw_pattern(int(label), size, rng, settings)
        colour = rng.uniform(0.3, 1.0, 3) * rng.choice([-1.0, 1.0])
        image = pattern[..., np.newaxis] * colour + rng.uniform(-0.2, 0.2)
        image += rng.normal(0, settings.noise, image.shape)
        images[index] = np.clip(image, -1, 1)
    return images, labels.astype(np.int32)


def build(settings: TrainingSettings) -> keras.Model:
    """Three small convolutions, global average pooling, and a linear head (logits)."""
    keras.utils.set_random_seed(settings.seed)
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(16, 5, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.MaxPooling2D(2, name="pool1")(x)
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.MaxPooling2D(2, name="pool2")(x)
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu", name=FEATURE_LAYER)(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(len(CLASSES), name="logits")(x)
    return keras.Model(inputs, outputs, name=NETWORK_NAME)


def train(settings: TrainingSettings) -> tuple[keras.Model, float]:
    """Train a fresh network; return it with its accuracy on held-out images."""
    model = build(settings)
    model.compile(
        optimizer=keras.optimizers.Adam(settings.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    images, labels = dataset(settings)
    model.fit(
        images,
        labels,
        batch_size=settings.batch_size,
        epochs=settings.epochs,
        verbose=0,
        shuffle=False,
    )
    held_out = TrainingSettings(
        **{**asdict(settings), "seed": settings.seed + 1, "images_per_class": 100}
    )
    test_images, test_labels = dataset(held_out)
    predictions = np.argmax(model.predict(test_images, verbose=0), axis=1)
    return model, float(np.mean(predictions == test_labels))


def cached_file(cache_dir: Path, settings: TrainingSettings = TrainingSettings()) -> Path:
    """The ``.keras`` file of the trained network, trained and saved there first if absent."""
    load_or_train(cache_dir, settings)
    return _cache_path(cache_dir, settings)


def _cache_path(cache_dir: Path, settings: TrainingSettings) -> Path:
    return cache_dir / f"{NETWORK_NAME}-{settings.cache_key()}.keras"


def load_or_train(cache_dir: Path, settings: TrainingSettings = TrainingSettings()) -> keras.Model:
    """The trained network from ``cache_dir``, training and saving it there first if absent."""
    path = _cache_path(cache_dir, settings)
    if path.is_file():
        return keras.models.load_model(path)
    model, accuracy = train(settings)
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.keras")
    model.save(partial)
    partial.replace(path)  # another process may be loading the same name
    path.with_suffix(".json").write_text(json.dumps({"accuracy": accuracy, **asdict(settings)}))
    return model


def class_filter(model: keras.Model, class_index: int) -> int:
    """The class's filter: the ``FEATURE_LAYER`` channel that the class's logit weighs most
    above every other class's, the channel most its own."""
    weights = model.get_layer("logits").get_weights()[0]
    others = np.delete(weights, class_index, axis=1).max(axis=1)
    return int(np.argmax(weights[:, class_index] - others))


def register(cache_dir: Path, settings: TrainingSettings = TrainingSettings()) -> Network:
    """Load (or train) the network and make it available to render specs as ``NETWORK_NAME``."""
    model = load_or_train(cache_dir, settings)
    return register_network(NETWORK_NAME, model, tf.identity)
