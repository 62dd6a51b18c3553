"""Small ``.keras`` files for the upload tests, built with Keras in the test process."""

from __future__ import annotations

from pathlib import Path

CNN_LAYERS = {"conv_a": 8, "pool": 8, "conv_b": 16}
TINY_RUN = {"image_size": 32, "iterations": 6, "snapshots": [5], "tv_weight": 0.0}
"""A job's run settings small enough for these models and a busy test machine."""


def small_cnn(path: Path) -> Path:
    """An image classifier with open input sizes: two convolutions and a dense head."""
    import keras

    keras.utils.set_random_seed(0)
    images = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv_a")(images)
    x = keras.layers.MaxPooling2D(name="pool")(x)
    x = keras.layers.Conv2D(16, 3, activation="relu", name="conv_b")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    keras.Model(images, keras.layers.Dense(4, name="logits")(x)).save(path)
    return path


def lambda_cnn(path: Path) -> Path:
    """A CNN with a Lambda layer: Python code that safe mode refuses to load."""
    import keras

    images = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(4, 3, name="conv")(images)
    keras.Model(images, keras.layers.Lambda(lambda t: t * 2.0, name="double")(x)).save(path)
    return path


def tabular_model(path: Path) -> Path:
    """A model whose input is a vector, not an image."""
    import keras

    features = keras.Input((16,))
    keras.Model(features, keras.layers.Dense(2)(features)).save(path)
    return path


def truncated(source: Path, path: Path) -> Path:
    """The first half of a valid file, as an interrupted copy leaves it."""
    data = source.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path
