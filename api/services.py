"""The connections one API process opens at start and shares between requests."""

from __future__ import annotations

from dataclasses import dataclass

from featviz.queue import JobQueue
from featviz.settings import Settings
from featviz.storage import LocalStorage, S3Storage, open_storage
from featviz.store import JobStore


@dataclass(frozen=True)
class Services:
    settings: Settings
    store: JobStore
    storage: S3Storage | LocalStorage
    queue: JobQueue

    @classmethod
    def open(cls, settings: Settings) -> Services:
        return cls(
            settings=settings,
            store=JobStore.from_url(settings.redis_url),
            storage=open_storage(settings),
            queue=JobQueue(settings),
        )

    def close(self) -> None:
        self.queue.close()
        self.store.redis.close()
