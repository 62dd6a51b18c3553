"""The worker's drain: once the worker is told to stop (SIGTERM, Celery's warm shutdown), the
running job is finished when it will end within the grace, and handed back to the queue
otherwise, so that a stopping worker neither holds a long job to its end nor costs it an attempt.

Celery's warm shutdown takes no new task and waits for the running one; the drain makes that wait
short: the engine's stop hook asks ``hands_back`` every iteration. A draining worker also stops
counting as live: its heartbeat (``worker.heartbeat.WorkerHeartbeat``) sees ``draining`` and
removes its capabilities, so the API no longer counts on it for new jobs.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Drain:
    """Whether this worker is stopping, and whether its running job should be handed back.

    Parameters
    ----------
    grace_s
        How long after the drain began a job may still take to finish (``drain_grace_s``).
    clock
        Monotonic seconds.
    """

    def __init__(self, grace_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.grace_s = grace_s
        self._clock = clock
        self._began_at: float | None = None

    def begin(self) -> None:
        """Start draining (once; later calls change nothing). Called from a signal handler, so it
        only stores a number: no lock, no I/O."""
        if self._began_at is None:
            self._began_at = self._clock()

    @property
    def draining(self) -> bool:
        return self._began_at is not None

    def hands_back(self, seconds_left: float | None) -> bool:
        """Whether a job expected to need ``seconds_left`` more (None: no estimate yet) should be
        handed back rather than finished: only while draining, and when it would not end within
        the grace counted from the drain's start."""
        if self._began_at is None:
            return False
        if seconds_left is None:
            return True
        return self._clock() - self._began_at + seconds_left > self.grace_s


def seconds_left(done: int, total: int, elapsed_s: float) -> float | None:
    """How long the rest of a run will take at its pace so far: ``done`` of ``total`` iterations
    in ``elapsed_s``; None before the first iteration, when there is no pace to go by."""
    if done <= 0:
        return None
    return (total - done) * elapsed_s / done
