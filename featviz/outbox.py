"""Tasks recorded but not yet known to be on the broker, so that a crash in between loses nothing.

A record that needs a task (a new job, a layer job whose last pack is done, an uploaded model or
dataset) puts an entry ``{task}:{id}`` in the sorted set ``fv:outbox``, scored by Redis time, in
the same transaction that writes the record. Whoever sends the task removes the entry. Every
worker's reaper sends entries older than a grace period again: the API or a worker may have
died between writing and sending. Sending twice is harmless: a job is claimed once (its lease),
a finished layer job is not finished again, and an upload is validated only while
``validating``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, get_args

import redis

OUTBOX_KEY = "fv:outbox"

Task = Literal["run", "finish", "validate", "validate_dataset"]
"""``run`` a job, comparison, pack or shard; ``finish`` a layer or exemplar job; ``validate`` an
uploaded model; ``validate_dataset`` an uploaded dataset."""


def entry(task: Task, ident: str) -> str:
    return f"{task}:{ident}"


def parse(outbox_entry: str) -> tuple[Task, str]:
    """``(task, id)`` of an entry.

    Raises
    ------
    ValueError
        When the entry names no task.
    """
    name, _, ident = outbox_entry.partition(":")
    for task in get_args(Task):
        if name == task:
            return task, ident
    raise ValueError(f"outbox entry {outbox_entry!r} names no task")


def redis_now(client: redis.Redis[str]) -> float:
    """Redis's clock, which every host shares."""
    seconds, microseconds = client.time()
    return float(seconds) + float(microseconds) / 1e6


def stage(pipe: redis.client.Pipeline[str], entries: list[str], now: float) -> None:
    """Add entries inside the transaction that writes their records."""
    if entries:
        pipe.zadd(OUTBOX_KEY, dict.fromkeys(entries, now))


def sent(client: redis.Redis[str], entries: Sequence[str]) -> None:
    """The tasks are on the broker (or no longer needed): nothing to resend."""
    if entries:
        client.zrem(OUTBOX_KEY, *entries)


def due(client: redis.Redis[str], older_than_s: float) -> list[str]:
    """Entries written more than ``older_than_s`` ago and still not known to be sent."""
    return list(client.zrangebyscore(OUTBOX_KEY, "-inf", redis_now(client) - older_than_s))
