"""Uploaded models on the worker: validating an upload, and loading one for the jobs that name it.

Files are loaded in Keras safe mode only, so a model carrying Python code (a ``Lambda`` layer, a
custom class) is refused instead of run; safe mode is never turned off.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import zipfile
from collections import OrderedDict
from pathlib import Path

import keras

from featviz.catalog import CatalogLayer
from featviz.fields import MAX_IMAGE_SIZE, MIN_IMAGE_SIZE
from featviz.user_models import MODEL_FILE_SUFFIX, ModelCatalogEntry, ModelStore, UserModel
from featviz_engine.ascent import forget_model
from featviz_engine.models import (
    INPUT_MAPPINGS,
    list_layers,
    register_network,
    smallest_image_sizes,
)
from featviz_engine.objectives import min_map_size
from worker.retrying_storage import RetryingStorage, StorageUnavailableError

logger = logging.getLogger(__name__)

IMAGE_INPUT = "one image input of shape (height, width, 3)"


class ModelRejectedError(Exception):
    """An uploaded file that featviz cannot use; the message is the reason users see."""


class ModelUnavailableError(Exception):
    """A job names an uploaded model that is deleted, another key's, or not ready."""


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
    """Load a ``.keras`` file in safe mode.

    Raises
    ------
    ModelRejectedError
        When the file is not a whole ``.keras`` archive or Keras refuses it.
    """
    if not zipfile.is_zipfile(path):
        raise ModelRejectedError(
            "not a .keras file: it is not a zip archive (truncated or corrupt?)"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise ModelRejectedError(f"the .keras archive is corrupt: {error}") from error
    if damaged is not None:
        raise ModelRejectedError(f"the .keras archive is corrupt: {damaged} fails its checksum")
    try:
        model = keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as error:  # Keras raises ValueError, TypeError and more for bad files.
        raise ModelRejectedError(_load_failure(error)) from error
    if not isinstance(model, keras.Model):
        raise ModelRejectedError(f"the file holds a {type(model).__name__}, not a Keras model")
    return model


def _image_side(model: keras.Model) -> int | None:
    """The fixed side of the model's square image input, or None when any size goes.

    Raises
    ------
    ModelRejectedError
        When the model does not take exactly one (H, W, 3) image.
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
    if height is not None and not MIN_IMAGE_SIZE <= height <= MAX_IMAGE_SIZE:
        raise ModelRejectedError(
            f"the model takes {height} px images; featviz renders {MIN_IMAGE_SIZE} to "
            f"{MAX_IMAGE_SIZE} px"
        )
    return None if height is None else int(height)


def catalogue(model: keras.Model) -> ModelCatalogEntry:
    """The layers a job may visualise: 4-D outputs, their channels and smallest image size.

    Raises
    ------
    ModelRejectedError
        When the model takes no single image or has no 4-D layer.
    """
    side = _image_side(model)
    layers = list_layers(model)
    if not layers:
        raise ModelRejectedError(
            "the model has no layer with a 4-D (batch, height, width, channels) output"
        )
    names = [layer.name for layer in layers]
    if side is None:
        sizes = smallest_image_sizes(model, names, MIN_IMAGE_SIZE, MAX_IMAGE_SIZE)
    else:
        sizes = {
            layer.name: side
            for layer in model.layers
            if layer.name in names and min(layer.output.shape[1:3]) >= min_map_size()
        }
    return ModelCatalogEntry(
        input_size=side,
        min_input_size=side or MIN_IMAGE_SIZE,
        layers=[
            CatalogLayer(name=layer.name, channels=layer.channels, min_image_size=sizes.get(name))
            for layer, name in zip(layers, names, strict=True)
        ],
    )


def validate_model(
    model_id: str, store: ModelStore, storage: RetryingStorage, max_attempts: int
) -> None:
    """Load an upload in safe mode and record it ``ready`` with its layers, or ``rejected``.

    A delivery is redelivered when its worker dies, so a model that kills every worker loading
    it (too large for its memory) is rejected after ``max_attempts`` instead of looping.
    """
    record = store.get(model_id)
    if record is None or record.status != "validating":
        logger.info("model %s: nothing to validate", model_id)
        return
    if store.count_validation_attempt(model_id) > max_attempts:
        store.mark_rejected(
            model_id,
            f"the worker loading it stopped {max_attempts} times (too large for its memory?)",
        )
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"model{MODEL_FILE_SUFFIX}"
        try:
            storage.download(record.file_key, path)
            entry = catalogue(load_safely(path))
        except ModelRejectedError as rejection:
            logger.info("model %s rejected: %s", model_id, rejection)
            store.mark_rejected(model_id, str(rejection))
            return
        except StorageUnavailableError as error:
            store.mark_rejected(model_id, f"the uploaded file could not be read: {error}")
            return
        except Exception as error:
            # Whatever else goes wrong, the upload must not stay ``validating`` for ever.
            logger.exception("model %s: validation failed", model_id)
            store.mark_rejected(
                model_id, f"validation failed unexpectedly: {type(error).__name__}: {error}"
            )
            return
    store.mark_ready(model_id, entry)
    logger.info("model %s ready: %d layers", model_id, len(entry.layers))


def weight_bytes(model: keras.Model) -> int:
    """Memory the model's weights take."""
    return sum(int(weight.numpy().nbytes) for weight in model.weights)


class LoadedModels:
    """Uploaded models this worker has registered with the engine, by id.

    Ids are never reused, so a cached model cannot go stale; once the weights of all loaded
    models pass ``budget_bytes``, the least recently used are unregistered (the one in use stays,
    however large).
    """

    def __init__(self, budget_bytes: int) -> None:
        self.budget_bytes = budget_bytes
        self._sizes: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    def __contains__(self, model_id: str) -> bool:
        return model_id in self._sizes

    def use(self, record: UserModel, storage: RetryingStorage) -> None:
        """Make a ready model available to the engine under its id, loading it if needed.

        Raises
        ------
        ModelUnavailableError
            When the model is not ready or its file no longer loads.
        """
        if record.status != "ready":
            raise ModelUnavailableError(f"model {record.id!r} is {record.status}, not ready")
        with self._lock:
            if record.id in self._sizes:
                self._sizes.move_to_end(record.id)
                return
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / f"model{MODEL_FILE_SUFFIX}"
                storage.download(record.file_key, path)
                try:
                    model = load_safely(path)
                except ModelRejectedError as error:
                    raise ModelUnavailableError(f"model {record.id!r}: {error}") from error
            register_network(record.id, model, INPUT_MAPPINGS[record.input_range])
            self._sizes[record.id] = weight_bytes(model)
            self._evict(keep=record.id)

    def _evict(self, keep: str) -> None:
        while sum(self._sizes.values()) > self.budget_bytes and len(self._sizes) > 1:
            oldest = next(iter(self._sizes))
            if oldest == keep:
                break
            del self._sizes[oldest]
            forget_model(oldest)
            logger.info("unloaded model %s to stay within the model cache", oldest)
