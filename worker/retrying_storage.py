"""Storage as the worker uses it: every call is retried with exponential backoff, so that a
storage outage shorter than the retries costs a job time, not its result."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, TypeVar

from featviz.storage import Storage, StoredObject

logger = logging.getLogger(__name__)

T = TypeVar("T")


class StorageUnavailableError(Exception):
    """Storage kept failing through every retry."""


class RetryingStorage(Storage):
    """Tries each call ``attempts`` times, waiting ``backoff_s``, then twice that, and so on.

    It subclasses the ``Storage`` protocol so that mypy checks it provides every method; a call
    that fails every try raises ``StorageUnavailableError``.
    """

    def __init__(self, storage: Storage, attempts: int, backoff_s: float) -> None:
        self.storage = storage
        self.attempts = attempts
        self.backoff_s = backoff_s

    def _retry(self, what: str, call: Callable[[], T]) -> T:
        started = time.monotonic()
        attempt = 1
        while True:
            try:
                return call()
            except Exception as error:
                if attempt == self.attempts:
                    raise StorageUnavailableError(
                        f"could not {what} in {self.attempts} tries over "
                        f"{time.monotonic() - started:.1f} s: {type(error).__name__}: {error}"
                    ) from error
                wait_s = self.backoff_s * 2 ** (attempt - 1)
                logger.warning(
                    "could not %s (try %d of %d): %s; retrying in %.1f s",
                    what, attempt, self.attempts, error, wait_s,
                )  # fmt: skip
                time.sleep(wait_s)
                attempt += 1

    def put(self, key: str, data: bytes) -> None:
        self._retry(f"store {key}", lambda: self.storage.put(key, data))

    def get(self, key: str) -> bytes:
        return self._retry(f"read {key}", lambda: self.storage.get(key))

    def put_file(self, key: str, source: BinaryIO) -> None:
        start = source.tell()

        def put_from_start() -> None:
            # A failed try may have read part of the file.
            source.seek(start)
            self.storage.put_file(key, source)

        self._retry(f"store {key}", put_from_start)

    def download(self, key: str, target: Path) -> None:
        self._retry(f"read {key}", lambda: self.storage.download(key, target))

    def delete(self, key: str) -> None:
        self._retry(f"delete {key}", lambda: self.storage.delete(key))

    def url(self, key: str, expires_in_s: int) -> str:
        return self._retry(f"link {key}", lambda: self.storage.url(key, expires_in_s))

    def listing(self) -> list[StoredObject]:
        return self._retry("list the stored keys", self.storage.listing)

    def ping(self) -> None:
        self._retry("reach storage", self.storage.ping)
