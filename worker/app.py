"""The worker's Celery app: ``celery -A worker.app worker --pool=solo -Q featviz``."""

from __future__ import annotations

from functools import lru_cache

from celery.signals import worker_ready, worker_shutdown, worker_shutting_down

from featviz.queue import create_celery
from featviz.settings import get_settings
from worker.context import worker_context
from worker.heartbeat import WorkerHeartbeat
from worker.reaper import Reaper
from worker.webhooks import WebhookDispatcher

app = create_celery(get_settings(), include=["worker.tasks"])


@lru_cache
def worker_heartbeat() -> WorkerHeartbeat:
    return WorkerHeartbeat(worker_context())


@worker_ready.connect
def start_threads(**_: object) -> None:
    """Each worker reaps expired leases, so jobs of a dead worker run again on the others, and
    publishes what it can serve, so the API refuses at submit what no worker can run."""
    Reaper(worker_context()).start()
    worker_heartbeat().start()


@worker_ready.connect
def start_webhooks(**_: object) -> None:
    """Each worker delivers webhooks beside its jobs, so deliveries scale with the workers."""
    context = worker_context()
    WebhookDispatcher(context.store.redis, context.settings).start()


@worker_shutting_down.connect
def start_drain(**_: object) -> None:
    """SIGTERM (Celery's warm shutdown): the running job is finished within the drain's grace or
    handed back (``worker.drain``). Celery sends this from its signal handler in the process that
    runs tasks (the solo pool's), so the running job's stop hook sees it; the worker's heartbeat
    sees it too and removes the worker's capabilities."""
    worker_context().drain.begin()


@worker_shutdown.connect
def stop_heartbeat(**_: object) -> None:
    """Celery has stopped (it sends this from its main loop, not a signal handler): the worker's
    capabilities go now, whether or not the drain's heartbeat removed them already."""
    worker_heartbeat().stop()
