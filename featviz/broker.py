"""What Celery's broker, kombu's Redis transport, keeps of the deliveries not yet acknowledged,
read so that a task delivered to a worker that died before acting on it is not left waiting for
the broker's visibility timeout (hours: longer than any job, ``featviz.queue``).

With late acks the transport moves each delivered message into the hash ``unacked`` (by delivery
tag: the message, its exchange and routing key, as JSON) and notes when in the sorted set
``unacked_index`` (the consumer's clock); the acknowledgement removes both. A worker takes one
task at a time and claims a job first thing, so a run task's delivery older than a lease
belongs to a worker that died before claiming the job, or to one running it under its lease.
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
    message: str
    """The message as the transport queues it, to queue it again."""


def stale_deliveries(client: redis.Redis[str], older_than_s: float) -> list[Delivery]:
    """Deliveries made more than ``older_than_s`` ago and not acknowledged since."""
    tags = client.zrangebyscore(UNACKED_INDEX_KEY, "-inf", time.time() - older_than_s)
    if not tags:
        return []
    deliveries = []
    for tag, payload in zip(tags, client.hmget(UNACKED_KEY, tags), strict=True):
        if payload is None:
            continue  # acknowledged since
        message = json.loads(payload)[0]
        body = message["body"]
        if message.get("properties", {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        args = json.loads(body)[0]  # Celery's task protocol 2: [args, kwargs, embed]
        deliveries.append(Delivery(tag, message["headers"]["task"], args, json.dumps(message)))
    return deliveries
