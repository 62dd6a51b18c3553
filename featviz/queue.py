"""The Celery configuration, in one place: the API sends tasks with it, the worker runs them.

Celery carries only job ids; the job store holds everything else. Delivery is at least once
(late acks, requeue when a worker dies, one task prefetched), which the worker makes safe by
claiming jobs in the store.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import redis
from celery import Celery
from kombu import Queue

from featviz import outbox
from featviz.settings import Settings

RUN_JOB_TASK = "featviz.run_job"
FINISH_LAYER_JOB_TASK = "featviz.finish_layer_job"
VALIDATE_MODEL_TASK = "featviz.validate_model"
VALIDATE_DATASET_TASK = "featviz.validate_dataset"


def celery_config(settings: Settings) -> dict[str, Any]:
    """Celery settings for the API (sending) and the worker (running)."""
    return {
        "broker_url": settings.redis_url,
        "broker_connection_retry_on_startup": True,
        # Longer than any job's time budget, so the broker never re-delivers a running job.
        "broker_transport_options": {"visibility_timeout": settings.visibility_timeout_s},
        "task_queues": (Queue(settings.queue),),
        "task_default_queue": settings.queue,
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "worker_hijack_root_logger": False,
    }


def create_celery(settings: Settings, include: list[str] | None = None) -> Celery:
    app = Celery("featviz", include=include or [])
    app.conf.update(celery_config(settings))
    return app


_TASKS: dict[outbox.Task, str] = {
    "run": RUN_JOB_TASK,
    "finish": FINISH_LAYER_JOB_TASK,
    "validate": VALIDATE_MODEL_TASK,
    "validate_dataset": VALIDATE_DATASET_TASK,
}


class JobQueue:
    """Sends job ids to the workers."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.celery = create_celery(settings)

    def send(self, task: outbox.Task, ident: str) -> None:
        self.celery.send_task(_TASKS[task], args=[ident], queue=self.settings.queue)

    def dispatch(
        self,
        client: redis.Redis[str],
        entries: Sequence[str],
        compensate: Callable[[], None] | None = None,
    ) -> None:
        """Send the tasks that outbox entries stand for, then clear the entries.

        The entries were recorded with their records, in the same transaction
        (``featviz.outbox.stage``), so a sender that dies before this call loses nothing: the
        reapers send them.

        Parameters
        ----------
        client
            The Redis the entries are recorded in.
        entries
            Outbox entries (``featviz.outbox.entry``).
        compensate
            When sending fails, settles the records so that they need no task (fails a job,
            rejects an upload); their entries are then cleared. Without it the entries stay,
            and the reapers send them again.

        Raises
        ------
        Exception
            Whatever sending raised, after ``compensate``.
        """
        try:
            for outbox_entry in entries:
                self.send(*outbox.parse(outbox_entry))
        except Exception:
            if compensate is not None:
                compensate()
                outbox.sent(client, entries)
            raise
        outbox.sent(client, entries)

    def enqueue(self, job_id: str) -> None:
        """Ask a worker to run a job, a comparison or a pack of a layer job."""
        self.send("run", job_id)

    def depth(self, client: redis.Redis[str]) -> int:
        """Tasks waiting in the broker (the Redis list named after the queue)."""
        return int(client.llen(self.settings.queue))

    def close(self) -> None:
        self.celery.close()
