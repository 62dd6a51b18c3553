"""What a worker process opens once and reuses for every job."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from functools import lru_cache

from featviz.datasets import DatasetStore
from featviz.queue import JobQueue
from featviz.records import WorkerInfo
from featviz.settings import Settings, get_settings
from featviz.storage import open_storage
from featviz.store import JobStore
from featviz.user_models import ModelStore
from worker.drain import Drain
from worker.retrying_storage import RetryingStorage
from worker.user_models import LoadedModels


@dataclass(frozen=True)
class WorkerContext:
    settings: Settings
    store: JobStore
    storage: RetryingStorage
    queue: JobQueue
    models: ModelStore
    datasets: DatasetStore
    loaded_models: LoadedModels
    drain: Drain

    @property
    def identity(self) -> WorkerInfo:
        """This process, as job records show it while it runs their job."""
        return WorkerInfo(host=socket.gethostname(), pid=os.getpid())


@lru_cache
def worker_context() -> WorkerContext:
    settings = get_settings()
    store = JobStore.from_url(settings.redis_url)
    return WorkerContext(
        settings=settings,
        store=store,
        storage=RetryingStorage(
            open_storage(settings), settings.storage_attempts, settings.storage_backoff_s
        ),
        queue=JobQueue(settings),
        models=ModelStore(store.redis),
        datasets=DatasetStore(store.redis),
        loaded_models=LoadedModels(settings.model_cache_bytes),
        drain=Drain(settings.drain_grace_s),
    )
