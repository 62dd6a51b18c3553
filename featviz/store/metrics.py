"""What ``/metrics`` reads from the store: top-level jobs by status, and a histogram of job run
times that every API and worker process shares (in Redis, not in one process's memory)."""

from __future__ import annotations

import redis

from featviz.records import STATUSES
from featviz.store.keys import DURATIONS_KEY, STATUS_COUNTS_KEY

DURATION_BUCKETS_S = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, float("inf"))


def status_counts(client: redis.Redis[str]) -> dict[str, int]:
    """Top-level jobs by status (the status scripts keep the counts)."""
    raw = client.hgetall(STATUS_COUNTS_KEY)
    return {status: int(raw.get(status, 0)) for status in STATUSES}


def observe_duration(client: redis.Redis[str], seconds: float) -> None:
    """Add a finished job's run time to the histogram."""
    bucket = next(b for b in DURATION_BUCKETS_S if seconds <= b)
    with client.pipeline(transaction=True) as pipe:
        pipe.hincrby(DURATIONS_KEY, str(bucket), 1)
        pipe.hincrbyfloat(DURATIONS_KEY, "sum", seconds)
        pipe.execute()


def durations(client: redis.Redis[str]) -> tuple[list[tuple[float, int]], float]:
    """Cumulative ``(upper bound, count)`` buckets and the sum of all durations."""
    raw = client.hgetall(DURATIONS_KEY)
    cumulative, running = [], 0
    for bound in DURATION_BUCKETS_S:
        running += int(raw.get(str(bound), 0))
        cumulative.append((bound, running))
    return cumulative, float(raw.get("sum", 0.0))
