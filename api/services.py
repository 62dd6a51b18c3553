"""The connections one API process opens at start and shares between requests."""

from __future__ import annotations

from dataclasses import dataclass

from api.rate_limit import RateLimiter
from featviz.datasets import DatasetStore
from featviz.queue import JobQueue
from featviz.settings import Settings
from featviz.signing import LinkSigner, derived_key
from featviz.storage import Storage, open_storage
from featviz.store import JobStore
from featviz.store.events import EventReader
from featviz.user_models import ModelStore


@dataclass(frozen=True)
class Services:
    settings: Settings
    store: JobStore
    storage: Storage
    queue: JobQueue
    rate_limiter: RateLimiter
    models: ModelStore
    events: EventReader
    event_links: LinkSigner
    """Signs the links to a job's events, which a browser's EventSource opens without headers."""
    datasets: DatasetStore

    @classmethod
    def open(cls, settings: Settings) -> Services:
        store = JobStore.from_url(settings.redis_url)
        return cls(
            settings=settings,
            store=store,
            storage=open_storage(settings),
            queue=JobQueue(settings),
            rate_limiter=RateLimiter(
                store.redis, settings.rate_limit_per_s, settings.rate_limit_burst
            ),
            models=ModelStore(store.redis),
            events=EventReader.from_url(settings.redis_url),
            event_links=LinkSigner(
                derived_key(settings.signing_secret.get_secret_value().encode(), "event links")
            ),
            datasets=DatasetStore(store.redis),
        )

    async def close(self) -> None:
        self.queue.close()
        self.store.redis.close()
        await self.events.close()
