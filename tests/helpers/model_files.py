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


def pooled_cnn(path: Path) -> Path:
    """Open input sizes, two 4x poolings: ``pool_b`` needs images of at least 80 px (a 5x5 map)."""
    import keras

    keras.utils.set_random_seed(0)
    images = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv_a")(images)
    x = keras.layers.MaxPooling2D(4, name="pool_a")(x)
    x = keras.layers.Conv2D(6, 3, padding="same", name="conv_b")(x)
    x = keras.layers.MaxPooling2D(4, name="pool_b")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    keras.Model(images, keras.layers.Dense(2, name="logits")(x)).save(path)
    return path


def fixed_size_cnn(path: Path) -> Path:
    """A model that takes 64 px images only."""
    import keras

    images = keras.Input((64, 64, 3))
    x = keras.layers.Conv2D(8, 3, name="conv")(images)
    keras.Model(images, keras.layers.Flatten(name="flat")(x)).save(path)
    return path


REJECTION_REASONS = {
    "lambda": "Lambda layer, which carries arbitrary Python code",
    "tabular": "featviz needs one image input of shape (height, width, 3)",
    "truncated": "not a zip archive (truncated or corrupt?)",
}
"""Why each of ``unusable_files`` is refused, in the words users see: uploads and the command
line give the same reasons."""


def unusable_files(folder: Path, cnn: Path) -> dict[str, Path]:
    """One file per reason of ``REJECTION_REASONS``, by its key (``cnn``: a valid file to cut)."""
    return {
        "lambda": lambda_cnn(folder / "lambda.keras"),
        "tabular": tabular_model(folder / "tabular.keras"),
        "truncated": truncated(cnn, folder / "truncated.keras"),
    }
