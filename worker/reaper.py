"""The lease reaper: every worker runs one in a thread, and it settles jobs whose lease expired
because the worker running them died, and the tasks delivered to a worker that died before
claiming their job, without waiting for the broker's visibility timeout; it also sends the tasks
that were recorded but never sent (``featviz.outbox``). It registers the operator's datasets
(``worker.operator_datasets``) as it starts, and at each pass until that succeeded."""

from __future__ import annotations

import logging
import threading
import time

from featviz import outbox
from featviz.broker import stale_deliveries
from featviz.queue import RUN_JOB_TASK
from worker.context import WorkerContext
from worker.operator_datasets import OperatorDatasets
from worker.runner import settle_pack

logger = logging.getLogger(__name__)


class Reaper:
    """Settles jobs whose lease expired, every ``reaper_interval_s``: a job is queued and sent
    again (or failed once its attempts are spent, or canceled when asked to stop). Every worker
    runs one; the store's script lets one reaper act on each expired lease."""

    def __init__(self, context: WorkerContext) -> None:
        self.context = context
        self.operator_datasets = OperatorDatasets(context)
        self._thread = threading.Thread(target=self._run, name="lease-reaper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def resend_unsent(self) -> None:
        """Send the tasks whose sender died between recording and sending them."""
        redis_client = self.context.store.redis
        for entry in outbox.due(redis_client, self.context.settings.outbox_grace_s):
            logger.warning("%s: recorded but never sent; sending it now", entry)
            self.context.queue.dispatch(redis_client, [entry])

    def reap_expired(self) -> None:
        settings, store = self.context.settings, self.context.store
        for job_id in store.expired_leases():
            reaped = store.reap(job_id, settings.lease_s, settings.max_attempts)
            logger.warning("job %s: lease expired; %s", job_id, reaped.outcome)
            if reaped.outcome == "requeued":
                self.context.queue.enqueue(job_id)
            elif reaped.parent is not None and reaped.outcome in ("canceled", "failed"):
                settle_pack(job_id, reaped.parent, self.context)

    def redeliver_lost(self) -> None:
        """Put back the run tasks delivered to a worker that died before claiming their job."""
        settings, store = self.context.settings, self.context.store
        for delivery in stale_deliveries(store.redis, settings.lease_s):
            if delivery.task != RUN_JOB_TASK:
                continue
            job_id = delivery.args[0]
            if store.redeliver(job_id, delivery, settings.queue):
                logger.warning("job %s: its worker died before claiming it; sent again", job_id)

    def sweep(self) -> None:
        """One pass: settle the expired leases and the deliveries never claimed, then send what
        was never sent (first the operator datasets, until they are registered)."""
        self.operator_datasets.register_once()
        self.reap_expired()
        self.redeliver_lost()
        self.resend_unsent()

    def _run(self) -> None:
        try:
            # At once, not a pass later: a stack's datasets are listed as soon as it is up.
            self.operator_datasets.register_once()
        except Exception:
            logger.exception("could not register the operator datasets; the next pass tries")
        while True:
            time.sleep(self.context.settings.reaper_interval_s)
            try:
                self.sweep()
            except Exception:
                # Redis or the broker may be down for a while; the next pass tries again.
                logger.exception("lease reaper pass failed")
