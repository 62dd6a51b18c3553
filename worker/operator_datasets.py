"""Operator datasets on the worker: registering those the settings name, and copying one's
objects into the archive its check reads.

Each worker registers them once, as its reaper starts (retried at each reaper pass, so Redis
down at its start only delays it): a dataset not yet recorded, recorded from another URL, or
rejected because its URL could not be read is recorded ``validating`` with its check queued;
one recorded but no longer in the settings is deleted with its files. The check
(``worker.datasets.validate_dataset``) copies the objects under the URL into a zip, refusing
before it copies anything a URL that holds more objects or bytes than an upload's zip may,
stores the zip where an upload's archive goes and checks it as an upload's: jobs then read a
copy, which changes only when the dataset is checked again.
"""

from __future__ import annotations

import logging
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from featviz import outbox
from featviz.datasets import OPERATOR, operator_dataset_id
from featviz.limits import exceeded
from featviz.settings import Settings
from featviz.storage import open_storage
from worker.context import WorkerContext
from worker.dataset_check import dataset_file_limits
from worker.retrying_storage import RetryingStorage, StorageUnavailableError

logger = logging.getLogger(__name__)

COPY_THREADS = 8
"""Objects read at once: an object store answers each read in tens of milliseconds."""
COPY_CHUNK = 64
"""Objects held in memory at once, at most, between reading and writing into the zip."""


def register_operator_datasets(context: WorkerContext) -> None:
    """Bring the operator datasets' records in line with ``FEATVIZ_OPERATOR_DATASETS``."""
    datasets, configured = context.datasets, context.settings.operator_datasets
    kept = {operator_dataset_id(name) for name in configured}
    for record in datasets.operator_datasets():
        if record.id not in kept and datasets.delete(record.id, OPERATOR):
            logger.info("operator dataset %s is no longer configured: deleted", record.id)
            # As for a deleted upload (api.uploads): the record went first, so a storage outage
            # leaves stray files, never a dataset without them.
            for key in (record.file_key, record.manifest_key):
                try:
                    context.storage.delete(key)
                except StorageUnavailableError:
                    logger.warning("operator dataset %s is deleted but %s stays", record.id, key)
    entries = [
        outbox.entry(datasets.task, operator_dataset_id(name))
        for name, url in configured.items()
        if datasets.register_operator(name, url)
    ]
    if entries:
        logger.info("operator datasets to check: %s", entries)
        context.queue.dispatch(datasets.redis, entries)


class OperatorDatasets:
    """Registers the operator datasets once per worker process, retried until it succeeds."""

    def __init__(self, context: WorkerContext) -> None:
        self.context = context
        self.registered = False

    def register_once(self) -> None:
        if not self.registered:
            register_operator_datasets(self.context)
            self.registered = True


def copy_source(url: str, archive: Path, settings: Settings) -> None:
    """Write the objects under an operator dataset's ``url`` into a zip at ``archive``, each
    named by its key under the URL (stored, not compressed: images barely compress).

    Raises
    ------
    featviz.limits.LimitExceededError
        When the URL holds more objects or bytes than ``FEATVIZ_DATASET_MAX_ENTRIES`` or
        ``FEATVIZ_DATASET_MAX_UNCOMPRESSED_BYTES`` let a dataset's zip hold; nothing is read.
    worker.retrying_storage.StorageUnavailableError
        When the URL cannot be listed or an object read, through every retry.
    """
    source = RetryingStorage(
        open_storage(settings, url), settings.storage_attempts, settings.storage_backoff_s
    )
    # Folder markers (keys ending in "/", as consoles create them) hold nothing.
    objects = [found for found in source.listing() if not found.key.endswith("/")]
    limits = dataset_file_limits(settings).archive
    if len(objects) > limits.max_entries.value:
        raise exceeded(limits.max_entries, "object count", len(objects))
    total = sum(found.size for found in objects)
    if total > limits.max_uncompressed_bytes.value:
        raise exceeded(limits.max_uncompressed_bytes, "objects' total size", total)
    with (
        zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as packed,
        ThreadPoolExecutor(COPY_THREADS) as pool,
    ):
        for start in range(0, len(objects), COPY_CHUNK):
            chunk = [found.key for found in objects[start : start + COPY_CHUNK]]
            for key, data in zip(chunk, pool.map(source.get, chunk), strict=True):
                packed.writestr(key, data)
