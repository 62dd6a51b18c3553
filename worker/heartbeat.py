"""The heartbeat of a running job: renews the job's lease from a thread of its own, so that a
long step (loading a model, tracing the step function, an upload being retried) does not starve
the lease the way a heartbeat in the optimisation loop would."""

from __future__ import annotations

import logging
import threading
from types import TracebackType

import redis

from featviz.store import JobStore

logger = logging.getLogger(__name__)


class Heartbeat:
    """Renews one attempt's lease every ``interval_s`` while the ``with`` block runs; ``lost``
    is set once the attempt no longer holds the job, so that the run stops."""

    def __init__(
        self, store: JobStore, job_id: str, attempt: int, interval_s: float, lease_s: float
    ) -> None:
        self.store = store
        self.job_id = job_id
        self.attempt = attempt
        self.interval_s = interval_s
        self.lease_s = lease_s
        self.lost = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{job_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._done.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._done.wait(self.interval_s):
            try:
                held = self.store.heartbeat(self.job_id, self.attempt, self.lease_s)
            except redis.RedisError as error:
                # Redis may be restarting; the lease survives a few missed beats.
                logger.warning("job %s: heartbeat failed: %s", self.job_id, error)
                continue
            if not held:
                logger.warning("job %s: attempt %d lost its lease", self.job_id, self.attempt)
                self.lost.set()
                return
