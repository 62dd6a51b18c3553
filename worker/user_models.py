"""Uploaded models on the worker: validating an upload, and loading one for the jobs that name it.

The worker fetches the file and records the outcome; the engine checks it in a child process
under limits (featviz_engine.model_validation), so that a file built to exhaust memory, CPU time
or disk is refused without hurting the worker, and loads it for jobs in Keras safe mode only
(featviz_engine.uploaded_models).
"""

from __future__ import annotations

import logging
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path

from featviz.catalog import CatalogLayer
from featviz.model_files import MODEL_FILE_SUFFIX
from featviz.user_models import ModelCatalogEntry, ModelStore, UserModel
from featviz_engine.caches import forget_model
from featviz_engine.model_validation import ModelFileLimits, validate_model_file
from featviz_engine.uploaded_catalog import ModelRejectedError, UploadedCatalog
from featviz_engine.uploaded_models import register_uploaded
from worker.retrying_storage import RetryingStorage, StorageUnavailableError

logger = logging.getLogger(__name__)


class ModelUnavailableError(Exception):
    """A job names an uploaded model that is deleted, another key's, or not ready."""


def catalog_entry(found: UploadedCatalog) -> ModelCatalogEntry:
    """An upload's layers as the catalog lists them."""
    return ModelCatalogEntry(
        input_size=found.input_size,
        min_input_size=found.min_input_size,
        layers=[
            CatalogLayer(
                name=layer.name, channels=layer.channels, min_image_size=layer.min_image_size
            )
            for layer in found.layers
        ],
    )


def validate_model(
    model_id: str,
    store: ModelStore,
    storage: RetryingStorage,
    max_attempts: int,
    limits: ModelFileLimits,
) -> None:
    """Check an upload under ``limits`` and record it ``ready`` with its layers, or ``rejected``.

    A rejection is final: the same file breaks the same limit again, so no retry is spent on it.
    A delivery is redelivered when its worker dies (the file cannot kill it; a node can), so an
    upload whose worker stops every time is rejected after ``max_attempts`` instead of looping.
    """
    record = store.get(model_id)
    if record is None or record.status != "validating":
        logger.info("model %s: nothing to validate", model_id)
        return
    if store.count_validation_attempt(model_id) > max_attempts:
        store.mark_rejected(
            model_id,
            f"the worker validating it stopped {max_attempts} times",
        )
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"model{MODEL_FILE_SUFFIX}"
        try:
            storage.download(record.file_key, path)
            entry = catalog_entry(validate_model_file(path, limits))
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


class LoadedModels:
    """Uploaded models this worker has registered with the engine, by id.

    Ids are never reused, so a cached model cannot go stale; once the weights of all loaded
    models pass ``budget_bytes``, the engine forgets the least recently used (the one in use
    stays, however large).
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
                    size = register_uploaded(record.id, path, record.input_range)
                except ModelRejectedError as error:
                    raise ModelUnavailableError(f"model {record.id!r}: {error}") from error
            self._sizes[record.id] = size
            self._evict(keep=record.id)

    def _evict(self, keep: str) -> None:
        while sum(self._sizes.values()) > self.budget_bytes and len(self._sizes) > 1:
            oldest = next(iter(self._sizes))
            if oldest == keep:
                break
            del self._sizes[oldest]
            forget_model(oldest)
            logger.info("unloaded model %s to stay within the model cache", oldest)
