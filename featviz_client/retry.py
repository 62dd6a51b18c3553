"""When to retry a request, and how long to wait before the next try."""

from __future__ import annotations

import random
from dataclasses import dataclass

import httpx

# Errors raised before the request reached the service: retrying them is always safe.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter for connection errors and gateway answers.

    Reads and creates (which carry an ``Idempotency-Key``) are retried on any connection error
    and on the ``statuses``; other requests only when they never left this machine.

    Parameters
    ----------
    attempts
        Tries in all, the first included; 1 turns retrying off.
    initial_delay_s, max_delay_s, multiplier
        The wait before try ``n + 1`` is about ``initial_delay_s * multiplier ** (n - 1)``,
        at most ``max_delay_s``; a ``Retry-After`` from the service is honoured up to that cap.
    statuses
        The answers worth another try.
    """

    attempts: int = 4
    initial_delay_s: float = 0.5
    max_delay_s: float = 8.0
    multiplier: float = 2.0
    statuses: frozenset[int] = frozenset({502, 503, 504})

    def retries_error(self, error: httpx.TransportError, attempt: int, safe: bool) -> bool:
        """Whether try ``attempt`` that raised ``error`` is followed by another."""
        return attempt < self.attempts and (safe or isinstance(error, _NOT_SENT))

    def retries_status(self, status: int, attempt: int, safe: bool) -> bool:
        """Whether try ``attempt`` answered with ``status`` is followed by another."""
        return attempt < self.attempts and safe and status in self.statuses

    def delay_s(self, attempt: int, retry_after_s: float | None = None) -> float:
        """Seconds to wait after try ``attempt``."""
        if retry_after_s is not None:
            return min(retry_after_s, self.max_delay_s)
        backoff = min(self.initial_delay_s * self.multiplier ** (attempt - 1), self.max_delay_s)
        # Half fixed, half random, so that clients that failed together do not retry together.
        return backoff / 2 + random.uniform(0, backoff / 2)


NO_RETRIES = RetryPolicy(attempts=1)
