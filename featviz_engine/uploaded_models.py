"""Models users upload as ``.keras`` files: loaded, checked, catalogued and registered.

Files are loaded in Keras safe mode only, so a model carrying Python code (a ``Lambda`` layer, a
custom class) is refused instead of run; safe mode is never turned off. A usable model takes
one square (H, W, 3) image and has at least one layer with a 4-D output.
"""

from __future__ import annotations

import re
from pathlib import Path

import keras
import tensorflow as tf

from featviz_engine.caches import forget_model
from featviz_engine.models import (
    INPUT_MAPPINGS,
    list_layers,
    register_network,
    smallest_image_sizes,
)
from featviz_engine.objectives import min_map_size
from featviz_engine.uploaded_catalog import ModelRejectedError, UploadedCatalog, UploadedLayer

IMAGE_INPUT = "one image input of shape (height, width, 3)"


def _load_failure(error: Exception) -> str:
    """Why Keras could not load a file, in words that do not suggest turning safe mode off."""
    message = str(error)
    if "Lambda" in message:
        return (
            "the model has a Lambda layer, which carries arbitrary Python code; featviz loads "
            "models in Keras safe mode and never runs such code: rebuild it from built-in layers"
        )
    if "arbitrary code" in message:
        return "the model carries arbitrary Python code, which featviz never runs (Keras safe mode)"
    if "Could not locate" in message or "Unknown layer" in message:
        return (
            "the model uses a class Keras does not know (custom layers or functions need their "
            f"Python code, which featviz does not run): {message.splitlines()[0]}"
        )
    return f"Keras could not load it: {type(error).__name__}: {message.splitlines()[0]}"


def load_safely(path: Path) -> keras.Model:
    """Load a ``.keras`` file in safe mode: for validation, in a child process under limits
    (``featviz_engine.model_validation``); for jobs, files that validation passed.

    Raises
    ------
    ModelRejectedError
        When Keras refuses the file.
    MemoryError
        When building the model or reading its weights ran out of memory.
    """
    try:
        model = keras.saving.load_model(path, safe_mode=True, compile=False)
    except MemoryError:
        raise
    except tf.errors.ResourceExhaustedError as error:
        # TensorFlow's allocator says so instead of raising MemoryError: one signal for callers.
        found = re.search(r"OOM when allocating tensor with shape\[[^\]]*\]", str(error))
        raise MemoryError(found.group(0) if found else str(error)) from error
    except Exception as error:  # Keras raises ValueError, TypeError and more for bad files.
        raise ModelRejectedError(_load_failure(error)) from error
    if not isinstance(model, keras.Model):
        raise ModelRejectedError(f"the file holds a {type(model).__name__}, not a Keras model")
    return model


def _image_side(model: keras.Model, smallest: int, largest: int) -> int | None:
    """The fixed side of the model's square image input, or None when any size goes.

    Raises
    ------
    ModelRejectedError
        When the model does not take exactly one (H, W, 3) image of an accepted size.
    """
    if len(model.inputs) != 1:
        count = len(model.inputs)
        raise ModelRejectedError(f"the model takes {count} inputs; featviz needs {IMAGE_INPUT}")
    shape = tuple(model.inputs[0].shape)
    if len(shape) != 4 or shape[-1] != 3:
        raise ModelRejectedError(
            f"the model's input has shape {shape[1:]}; featviz needs {IMAGE_INPUT}"
        )
    height, width = shape[1], shape[2]
    if height != width:
        raise ModelRejectedError(
            f"the model's input is {height}x{width}; featviz renders square images: give it a "
            "square input or open sizes (None, None, 3)"
        )
    if height is not None and not smallest <= height <= largest:
        raise ModelRejectedError(
            f"the model takes {height} px images; featviz renders {smallest} to {largest} px"
        )
    return None if height is None else int(height)


def catalogue(model: keras.Model, smallest: int, largest: int) -> UploadedCatalog:
    """The layers a job may visualise: 4-D outputs, their channels and smallest image size.

    Parameters
    ----------
    smallest, largest
        The image sizes (px) jobs may ask for.

    Raises
    ------
    ModelRejectedError
        When the model takes no single image of an accepted size or has no 4-D layer.
    """
    side = _image_side(model, smallest, largest)
    layers = list_layers(model)
    if not layers:
        raise ModelRejectedError(
            "the model has no layer with a 4-D (batch, height, width, channels) output"
        )
    names = [layer.name for layer in layers]
    if side is None:
        sizes = smallest_image_sizes(model, names, smallest, largest)
    else:
        sizes = {
            layer.name: side
            for layer in model.layers
            if layer.name in names and min(layer.output.shape[1:3]) >= min_map_size()
        }

    def uploaded(name: str, channels: int) -> UploadedLayer:
        layer = model.get_layer(name)
        shape = tuple(None if extent is None else int(extent) for extent in layer.output.shape[1:])
        return UploadedLayer(name, type(layer).__name__, channels, shape, sizes.get(name))

    return UploadedCatalog(
        input_size=side,
        min_input_size=side or smallest,
        layers=tuple(uploaded(layer.name, layer.channels) for layer in layers),
    )


def catalogue_file(path: Path, smallest: int, largest: int) -> UploadedCatalog:
    """Load an uploaded file in safe mode and catalogue it (see ``catalogue``).

    Raises
    ------
    ModelRejectedError
        With the reason users see.
    """
    return catalogue(load_safely(path), smallest, largest)


def register_file(
    name: str, path: Path, input_range: str, smallest: int, largest: int
) -> UploadedCatalog:
    """Load a user's file in safe mode, check it as an upload is checked, and make it available
    to renders under ``name``: ``featviz render --model-file``, which no validation precedes.

    Parameters
    ----------
    input_range
        The range the model expects its images in, a key of ``models.INPUT_MAPPINGS``.
    smallest, largest
        The image sizes (px) renders may ask for.

    Raises
    ------
    ModelRejectedError
        With the reason an upload of the file would be rejected with.
    """
    model = load_safely(path)
    found = catalogue(model, smallest, largest)
    # A name registered before (another file, another input range) must not keep the programs
    # traced on its old network.
    forget_model(name)
    register_network(name, model, INPUT_MAPPINGS[input_range])
    return found


def weight_bytes(model: keras.Model) -> int:
    """Memory the model's weights take."""
    return sum(int(weight.numpy().nbytes) for weight in model.weights)


def register_uploaded(model_id: str, path: Path, input_range: str) -> int:
    """Load an uploaded file in safe mode and make it available to jobs under ``model_id``;
    ``caches.forget_model`` unloads it.

    Parameters
    ----------
    input_range
        The range the model expects its images in, a key of ``models.INPUT_MAPPINGS``.

    Returns
    -------
    int
        The bytes its weights take.

    Raises
    ------
    ModelRejectedError
        When the file no longer loads.
    """
    model = load_safely(path)
    register_network(model_id, model, INPUT_MAPPINGS[input_range])
    return weight_bytes(model)
