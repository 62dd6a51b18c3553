"""Webhook deliveries waiting in Redis: the events a job's webhook asks for, put there by the
script that announced each event (``featviz/store/lua/fragments/events.lua``), taken by a
worker's dispatcher (``worker/webhooks.py``) and settled on the job's record after each attempt.

Taking a delivery holds it for a while instead of removing it, so a dispatcher that dies
mid-attempt loses nothing: the delivery is due again once the hold is over (at-least-once).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import redis

from featviz.events import JobEvent
from featviz.store.codec import now
from featviz.store.keys import (
    WEBHOOK_ATTEMPTS_KEY,
    WEBHOOK_DUE_KEY,
    WEBHOOK_PAYLOADS_KEY,
    job_key,
)
from featviz.store.outcomes import DELIVERY_OUTCOMES, DeliveryOutcome, parse_outcome
from featviz.store.scripts import Scripts


@dataclass(frozen=True)
class Delivery:
    """One event on its way to one job's webhook."""

    id: str
    """``{job id}/{event id}``: the same for every attempt, as Standard Webhooks' id must be."""
    job_id: str
    event: JobEvent


@dataclass(frozen=True)
class Target:
    """Where a job's webhook goes, and whose key signs it."""

    url: str
    owner: str
    kind: str


class Deliveries:
    """The webhook outbox.

    Parameters
    ----------
    client
        A Redis client created with ``decode_responses=True``.
    """

    def __init__(self, client: redis.Redis[str]) -> None:
        self.redis = client
        self._scripts = Scripts(client)

    def take(self, limit: int, hold_s: float) -> list[Delivery]:
        """Up to ``limit`` due deliveries, each held for ``hold_s``."""
        taken = self._scripts.run(
            "take_deliveries", keys=[WEBHOOK_DUE_KEY, WEBHOOK_PAYLOADS_KEY], args=[limit, hold_s]
        )
        deliveries = []
        for delivery_id, payload in zip(taken[::2], taken[1::2], strict=True):
            job_id, _, event_id = delivery_id.partition("/")
            event = json.loads(payload)
            deliveries.append(
                Delivery(delivery_id, job_id, JobEvent.of(event_id, event["type"], event["data"]))
            )
        return deliveries

    def target(self, job_id: str) -> Target | None:
        """The job's webhook, or None when the job no longer exists."""
        url, owner, kind = self.redis.hmget(job_key(job_id), ["webhook_url", "owner", "kind"])
        if url is None or owner is None or kind is None:
            return None
        return Target(url, owner, kind)

    def settle(
        self,
        delivery: Delivery,
        status: int | None,
        error: str | None,
        attempts: int,
        backoff_s: float,
    ) -> DeliveryOutcome:
        """Record an attempt on the job: ``error`` None means delivered.

        Parameters
        ----------
        status
            The HTTP status the attempt got; None when it got no answer.
        attempts
            How many attempts a delivery gets in all.
        backoff_s
            The wait after its first failed attempt; it doubles with each.
        """
        outcome = self._scripts.run(
            "settle_delivery",
            keys=[
                WEBHOOK_DUE_KEY,
                WEBHOOK_PAYLOADS_KEY,
                WEBHOOK_ATTEMPTS_KEY,
                job_key(delivery.job_id),
            ],
            args=[
                delivery.id,
                delivery.event.type,
                now(),
                "" if status is None else status,
                error or "",
                attempts,
                backoff_s,
            ],
        )
        return parse_outcome(DELIVERY_OUTCOMES, outcome)
