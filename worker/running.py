"""What every kind of run shares once claimed: its progress, when to stop, how it ends.

A batch of images (``worker.runner``) and a shard of an exemplar job (``worker.exemplars``)
both report progress, ask between steps whether to stop, hand a job back when the worker is
stopping, and record the errors they know as the same problems.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np

from featviz import outbox
from featviz.problems import Problem, invalid_field, problem
from featviz.records import JobRecord
from featviz_engine.errors import SpecError, WeightsUnavailableError
from worker import drain
from worker.context import WorkerContext
from worker.datasets import DatasetUnavailableError
from worker.heartbeat import Heartbeat
from worker.retrying_storage import StorageUnavailableError
from worker.user_models import ModelUnavailableError

logger = logging.getLogger(__name__)


class ProgressReporter:
    """Writes progress to the job (and a pack's advance to its layer job) at most once per
    interval, so that a fast loop does not flood Redis."""

    def __init__(self, context: WorkerContext, record: JobRecord, total: int) -> None:
        self.store = context.store
        self.record = record
        self.total = total
        self.interval_s = context.settings.progress_interval_s
        self.done = 0
        self._written_at = -float("inf")
        self._first_at: float | None = None

    def report(self, iteration: int, objective: np.ndarray) -> None:
        self.advance(iteration + 1)

    def advance(self, done: int) -> None:
        """``done`` of ``total`` steps (iterations, or a shard's images) are done."""
        self.done = done
        if self._first_at is None:
            self._first_at = time.monotonic()
        if time.monotonic() - self._written_at >= self.interval_s:
            self.flush()

    def seconds_left(self) -> float | None:
        """The time the remaining iterations will take at the pace since the first one (which
        also traces the step function, so it does not count)."""
        if self._first_at is None:
            return None
        return drain.seconds_left(self.done - 1, self.total - 1, time.monotonic() - self._first_at)

    def flush(self) -> None:
        self.store.set_progress(self.record.id, self.done, self.total)
        if self.record.parent is not None:
            self.store.record_pack_progress(self.record.parent, self.record.id, self.done)
        self._written_at = time.monotonic()


def use_uploaded_model(model_id: str, owner: str, context: WorkerContext) -> None:
    """Register the job owner's uploaded model with the engine (loaded once, then cached).

    Raises
    ------
    ModelUnavailableError
        When the model was deleted since the job was queued, or is not the owner's.
    """
    record = context.models.get_owned(model_id, owner)
    if record is None:
        raise ModelUnavailableError(
            f"model {model_id!r} was deleted after the job was queued; upload it again"
        )
    context.loaded_models.use(record, context.storage)


def hand_back(record: JobRecord, attempt: int, context: WorkerContext) -> None:
    """Queue a job again that this stopping worker will not finish, the attempt not counted."""
    if not context.store.hand_back(record.id, attempt):
        return  # the attempt lost the job meanwhile (reaped, canceled)
    logger.info("job %s: handed back to the queue (the worker is stopping)", record.id)
    try:
        context.queue.dispatch(context.store.redis, [outbox.entry("run", record.id)])
    except Exception:
        # The hand-back put the task in the outbox: a reaper sends it.
        logger.exception("job %s: sending it again failed; it waits in the outbox", record.id)


StopCheck = Callable[[], bool | str]


def stop_check(
    record: JobRecord, heartbeat: Heartbeat, progress: ProgressReporter, context: WorkerContext
) -> StopCheck:
    """What a running job asks between steps: stop (the attempt lost the job, or it was
    canceled), ``"drain"`` (hand it back: the worker is stopping), or go on."""

    def stop_reason() -> bool | str:
        if heartbeat.lost.is_set() or context.store.cancel_requested(record.id, record.parent):
            return True
        return "drain" if context.drain.hands_back(progress.seconds_left()) else False

    return stop_reason


KnownFailure = (
    SpecError,
    ModelUnavailableError,
    DatasetUnavailableError,
    WeightsUnavailableError,
    StorageUnavailableError,
)


def known_failure(error: Exception) -> Problem:
    """The problem a job failed with for one of the ``KnownFailure`` errors."""
    if isinstance(error, SpecError):
        return invalid_field(error.field, error.message)
    if isinstance(error, ModelUnavailableError):
        return problem(404, "model-unavailable", "Model unavailable", str(error))
    if isinstance(error, DatasetUnavailableError):
        return problem(404, "dataset-unavailable", "Dataset unavailable", str(error))
    if isinstance(error, WeightsUnavailableError):
        return problem(503, "weights-unavailable", "Model weights unavailable", str(error))
    return problem(503, "storage-unavailable", "Storage unavailable", str(error))


def settle(
    record: JobRecord, attempt: int, outcome: Problem | None, context: WorkerContext
) -> None:
    """Record how a run that ended here went: succeeded, or failed with ``outcome``."""
    if outcome is None:
        context.store.transition(record.id, ["running"], "succeeded", attempt=attempt)
    else:
        context.store.transition(record.id, ["running"], "failed", attempt=attempt, error=outcome)
