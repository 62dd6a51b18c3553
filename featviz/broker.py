"""What Celery's broker, kombu's Redis transport, holds of the tasks sent: the messages queued,
and the deliveries not yet acknowledged. The reaper reads both, so that a task delivered to a
worker that died before acting on it is not left waiting for the broker's visibility timeout
(hours: longer than any job, ``featviz.queue``), and a task lost on the way is sent again
(``featviz.store.unclaimed``).

The queue is a Redis list named after it, one JSON message an element. With late acks the
transport moves each delivered message into the hash ``unacked`` (by delivery tag: the message,
its exchange and routing key, as JSON) and notes when in the sorted set ``unacked_index`` (the
consumer's clock); the acknowledgement removes both. A worker takes one task at a time and
claims a job first thing, so a run task's delivery older than a lease belongs to a worker that
died before claiming the job, or to one running it under its lease.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from typing import Any

import redis

UNACKED_KEY = "unacked"
UNACKED_INDEX_KEY = "unacked_index"


@dataclass(frozen=True)
class Delivery:
    """One unacknowledged delivery."""

    tag: str
    task: str
    args: list[Any]


def _task(message: dict[str, Any]) -> tuple[str, list[Any]]:
    """A message's task name and arguments."""
    body = message["body"]
    if message.get("properties", {}).get("body_encoding") == "base64":
        body = base64.b64decode(body)
    args = json.loads(body)[0]  # Celery's task protocol 2: [args, kwargs, embed]
    return message["headers"]["task"], args


def stale_deliveries(client: redis.Redis[str], older_than_s: float) -> list[Delivery]:
    """Deliveries made more than ``older_than_s`` ago and not acknowledged since."""
    tags = client.zrangebyscore(UNACKED_INDEX_KEY, "-inf", time.time() - older_than_s)
    if not tags:
        return []
    deliveries = []
    for tag, payload in zip(tags, client.hmget(UNACKED_KEY, tags), strict=True):
        if payload is None:
            continue  # acknowledged since
        deliveries.append(Delivery(tag, *_task(json.loads(payload)[0])))
    return deliveries


def waiting_tasks(client: redis.Redis[str], queue: str, task: str) -> set[str]:
    """The first argument (a job id) of every ``task`` queued in ``queue`` or delivered and not
    acknowledged, read in one transaction, so that a message the transport moves from one to
    the other meanwhile is seen once. It reads the whole queue: called once a lease by one
    reaper of the fleet (``featviz.store.unclaimed``)."""
    with client.pipeline(transaction=True) as pipe:
        pipe.lrange(queue, 0, -1)
        pipe.hvals(UNACKED_KEY)
        queued, delivered = pipe.execute()
    messages = [json.loads(raw) for raw in queued]
    messages += [json.loads(raw)[0] for raw in delivered]
    return {args[0] for name, args in map(_task, messages) if name == task and args}
