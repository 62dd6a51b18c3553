"""Reading a job's event stream (``featviz.events``) without holding a thread: each waiting
reader holds one connection of an asyncio Redis client, blocked in ``XREAD`` on the server."""

from __future__ import annotations

import redis.asyncio

from featviz.events import JobEvent
from featviz.store.keys import events_key

FIRST = "0"
"""Read from the stream's oldest event on."""
READ_COUNT = 100
WAIT_MS = 2000
"""How long one read waits for an event: well within the client's socket timeout (redis-py's
default is 5 s), after which the caller looks again."""


class EventReader:
    """Reads job events for the API's event streams.

    Parameters
    ----------
    client
        An asyncio Redis client created with ``decode_responses=True``.
    """

    def __init__(self, client: redis.asyncio.Redis[str]) -> None:
        self.redis = client

    @classmethod
    def from_url(cls, url: str) -> EventReader:
        return cls(redis.asyncio.Redis.from_url(url, decode_responses=True))

    async def after(self, job_id: str, last_id: str) -> list[JobEvent]:
        """The job's events after ``last_id`` (``FIRST``: all those kept), waiting up to
        ``WAIT_MS`` for one when there is none yet; empty when none came."""
        answer = await self.redis.xread(
            {events_key(job_id): last_id}, count=READ_COUNT, block=WAIT_MS
        )
        return [
            JobEvent.parse(entry_id, fields)
            for _, entries in answer
            for entry_id, fields in entries
        ]

    async def close(self) -> None:
        # types-redis predates aclose (close is its deprecated alias in redis 5 and later).
        await self.redis.aclose()  # type: ignore[attr-defined]
