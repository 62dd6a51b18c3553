"""Heartbeats, each from a thread of its own: a running job's renews the job's lease, so that a
long step (loading a model, tracing the step function, an upload being retried) does not starve
the lease the way a heartbeat in the optimisation loop would; the worker's own publishes what it
can serve (``featviz.capabilities``) for as long as it takes jobs."""

from __future__ import annotations

import logging
import threading
from types import TracebackType

import redis

from featviz import capabilities
from featviz.store import JobStore
from worker.capabilities import this_worker
from worker.context import WorkerContext

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


class WorkerHeartbeat:
    """Publishes this worker's capabilities every ``heartbeat_interval_s``, each time for
    ``lease_s``: a worker that dies without stopping drops out of the live workers as its jobs'
    leases expire. Once the worker drains (SIGTERM) or stops it takes no new job, so its
    capabilities are removed: jobs submitted then wait for another worker instead of counting
    on this one."""

    def __init__(self, context: WorkerContext) -> None:
        self.context = context
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="worker-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop publishing and remove the capabilities (Celery's ``worker_shutdown``)."""
        self._done.set()
        if self._thread.ident is not None:  # started: Celery may stop before the worker is ready
            self._thread.join()
        self._withdraw()

    def _withdraw(self) -> None:
        context = self.context
        try:
            capabilities.withdraw(context.store.redis, context.settings.queue, context.identity)
        except redis.RedisError as error:
            # Redis is down: the capabilities expire by themselves after lease_s.
            logger.warning("could not remove this worker's capabilities: %s", error)

    def _run(self) -> None:
        settings, client = self.context.settings, self.context.store.redis
        while not self.context.drain.draining:
            try:
                published = this_worker(self.context.identity, settings)
                capabilities.publish(client, settings.queue, published, settings.lease_s)
            except redis.RedisError as error:
                # Redis may be restarting; the capabilities survive a few missed beats.
                logger.warning("worker heartbeat failed: %s", error)
            if self._done.wait(settings.heartbeat_interval_s):
                return
        # The drain began (in a signal handler, which does no I/O): remove them from here.
        self._withdraw()
