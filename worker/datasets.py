"""Datasets on the worker: validating one, and reading a ready one's images.

Validation (of an upload, or of an operator dataset's objects copied into a zip first: see
``worker.operator_datasets``) checks the archive and decodes every image in a child process
under the upload limits (``worker.dataset_check``), so a hostile archive or image costs that
process, not the worker.
"""

from __future__ import annotations

import logging
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from featviz.datasets import (
    DATASET_FILE_SUFFIX,
    Dataset,
    DatasetStore,
    Manifest,
    start_image_parts,
)
from featviz.limits import Limit, RefusedError
from featviz.settings import Settings
from featviz_engine.dataset_images import decode, square
from worker.dataset_check import dataset_file_limits, dataset_rules, validate_dataset_file
from worker.operator_datasets import copy_source
from worker.retrying_storage import RetryingStorage, StorageUnavailableError

logger = logging.getLogger(__name__)


class DatasetUnavailableError(Exception):
    """A job names a dataset that is deleted, another key's, or not ready."""


def validate_dataset(
    dataset_id: str, store: DatasetStore, storage: RetryingStorage, settings: Settings
) -> None:
    """Check a dataset (an upload, or an operator's objects copied first) and record it
    ``ready`` with its manifest, or ``rejected`` with the reason.

    As for a model, a rejection is final (an operator dataset whose files could not be read is
    checked again when a worker starts), and a check failing for a reason that is not the
    file's (``ChildFailedError``) fails the task, to be delivered again.
    """
    record = store.get(dataset_id)
    if record is None or record.status != "validating":
        logger.info("dataset %s: nothing to validate", dataset_id)
        return
    if store.count_validation_attempt(dataset_id) > settings.max_attempts:
        store.mark_rejected(
            dataset_id, f"the worker checking it stopped {settings.max_attempts} times"
        )
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"dataset{DATASET_FILE_SUFFIX}"
        try:
            _fetch_archive(record, path, storage, settings)
            manifest = validate_dataset_file(path, dataset_file_limits(settings))
        except StorageUnavailableError as error:
            store.mark_unreadable(dataset_id, f"its files could not be read: {error}")
            return
        except RefusedError as refusal:
            logger.info("dataset %s rejected: %s", dataset_id, refusal)
            store.mark_rejected(dataset_id, str(refusal))
            return
        size_bytes = path.stat().st_size
    storage.put(record.manifest_key, manifest.encode())
    store.mark_ready(dataset_id, len(manifest.images), size_bytes)
    logger.info("dataset %s ready: %d images", dataset_id, len(manifest.images))


def _fetch_archive(
    record: Dataset, path: Path, storage: RetryingStorage, settings: Settings
) -> None:
    """The dataset's zip at ``path``: the upload, or an operator dataset's objects copied into
    one, stored where an upload's goes.

    Raises
    ------
    StorageUnavailableError
        When the files cannot be read or the copy stored.
    featviz.limits.LimitExceededError
        When an operator dataset's URL holds more than a dataset's zip may.
    """
    if record.source is None:
        storage.download(record.file_key, path)
        return
    copy_source(record.source, path, settings)
    with path.open("rb") as copied:
        storage.put_file(record.file_key, copied)


@dataclass
class DatasetImages:
    """A ready dataset's images as the network sees them, read from its archive."""

    manifest: Manifest
    archive: zipfile.ZipFile
    max_pixels: Limit

    def square(self, image_id: str, size: int) -> np.ndarray:
        """The image of that id (its name in the archive), ``(size, size, 3)`` uint8."""
        return square(decode(self.archive.read(image_id), self.max_pixels), size)

    def squares(self, indices: range | list[int], size: int) -> np.ndarray:
        """The images at ``indices`` of the manifest, ``(n, size, size, 3)`` uint8."""
        return np.stack([self.square(self.manifest.images[i].id, size) for i in indices])


@contextmanager
def opened(
    record: Dataset | None, storage: RetryingStorage, settings: Settings
) -> Iterator[DatasetImages]:
    """A ready dataset's images, its archive fetched to a temporary file for the while.

    Raises
    ------
    DatasetUnavailableError
        When the dataset was deleted since the job was queued, or is not ready.
    """
    if record is None or record.status != "ready":
        raise DatasetUnavailableError(
            "the dataset was deleted (or, an operator's, is being checked again) after the job "
            "was queued"
        )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"dataset{DATASET_FILE_SUFFIX}"
        storage.download(record.file_key, path)
        manifest = Manifest.model_validate_json(storage.get(record.manifest_key))
        with zipfile.ZipFile(path) as archive:
            yield DatasetImages(manifest, archive, dataset_rules(settings).max_pixels)


def start_image(
    reference: str,
    owner: str,
    size: int,
    datasets: DatasetStore,
    storage: RetryingStorage,
    settings: Settings,
) -> np.ndarray:
    """A job's ``start_image`` (``dst_.../name.png``, checked at submission) as the network
    sees it: ``(size, size, 3)`` uint8.

    Raises
    ------
    DatasetUnavailableError
        When its dataset was deleted since the job was queued.
    """
    dataset_id, image_id = start_image_parts(reference)
    with opened(datasets.get_owned(dataset_id, owner), storage, settings) as images:
        return images.square(image_id, size)
