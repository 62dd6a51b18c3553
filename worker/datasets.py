"""Uploaded datasets on the worker: validating an upload, and reading a ready one's images.

Validation decodes every image in a child process (``worker.dataset_check``) whose address
space and CPU time are capped, so a hostile archive or image costs that process, not the worker.
"""

from __future__ import annotations

import logging
import resource
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from featviz.datasets import DATASET_FILE_SUFFIX, Dataset, DatasetStore, Manifest
from featviz.settings import Settings
from featviz_engine.dataset_images import decode, square
from worker.dataset_check import Limits, Verdict
from worker.retrying_storage import RetryingStorage, StorageUnavailableError

logger = logging.getLogger(__name__)

CHECK_CPU_S = 600
"""CPU seconds the child decoding a dataset may use."""


class DatasetUnavailableError(Exception):
    """A job names a dataset that is deleted, another key's, or not ready."""


def _limit_child(memory_bytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (CHECK_CPU_S, CHECK_CPU_S))


def check_archive(path: Path, settings: Settings) -> Verdict:
    """Run ``worker.dataset_check`` on an archive under the settings' resource limits."""
    limits = Limits(
        max_images=settings.max_dataset_images,
        max_unpacked_bytes=settings.max_dataset_unpacked_bytes,
        max_pixels=settings.max_dataset_image_pixels,
    )
    try:
        done = subprocess.run(
            [sys.executable, "-m", "worker.dataset_check", str(path)],
            input=limits.model_dump_json(),
            capture_output=True,
            text=True,
            timeout=CHECK_CPU_S * 2,
            preexec_fn=lambda: _limit_child(settings.dataset_check_memory_bytes),
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Verdict(reason=f"decoding its images took more than {CHECK_CPU_S * 2} s")
    if done.returncode != 0:
        logger.warning("dataset check exited %d: %s", done.returncode, done.stderr[-2000:])
        return Verdict(
            reason="decoding its images went past the memory or time allowed "
            f"({settings.dataset_check_memory_bytes} bytes, {CHECK_CPU_S} s of CPU)"
        )
    return Verdict.model_validate_json(done.stdout)


def validate_dataset(
    dataset_id: str, store: DatasetStore, storage: RetryingStorage, settings: Settings
) -> None:
    """Decode an upload's images and record it ``ready`` with its manifest, or ``rejected``."""
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
            storage.download(record.file_key, path)
        except StorageUnavailableError as error:
            store.mark_rejected(dataset_id, f"the uploaded file could not be read: {error}")
            return
        verdict = check_archive(path, settings)
    if verdict.manifest is None:
        logger.info("dataset %s rejected: %s", dataset_id, verdict.reason)
        store.mark_rejected(dataset_id, verdict.reason or "refused")
        return
    storage.put(record.manifest_key, verdict.manifest.encode())
    store.mark_ready(dataset_id, len(verdict.manifest.images))
    logger.info("dataset %s ready: %d images", dataset_id, len(verdict.manifest.images))


@dataclass
class DatasetImages:
    """A ready dataset's images as the network sees them, read from its archive."""

    manifest: Manifest
    archive: zipfile.ZipFile
    max_pixels: int

    def squares(self, indices: range | list[int], size: int) -> np.ndarray:
        """The images at ``indices`` of the manifest, ``(n, size, size, 3)`` uint8."""
        return np.stack(
            [
                square(
                    decode(self.archive.read(self.manifest.images[index].id), self.max_pixels), size
                )
                for index in indices
            ]
        )


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
            "the dataset was deleted after the job was queued; upload it again"
        )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"dataset{DATASET_FILE_SUFFIX}"
        storage.download(record.file_key, path)
        manifest = Manifest.model_validate_json(storage.get(record.manifest_key))
        with zipfile.ZipFile(path) as archive:
            yield DatasetImages(manifest, archive, settings.max_dataset_image_pixels)
