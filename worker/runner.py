"""Runs one delivered job: claim it in the store, optimise its batch, store what it makes.

The store decides whether a delivery runs (``JobStore.claim``): a finished or canceled job does
not, nor does a second delivery while the first holds the job's lease, and a job delivered more
than ``max_attempts`` times fails. While it runs, a heartbeat renews the lease; a run whose lease
was taken over stops. Status changes after the run name the attempt they belong to, so a run
that lost its job to a later delivery changes nothing.
"""

from __future__ import annotations

import logging
import time

import redis

from featviz import outbox
from featviz.catalog import is_uploaded_model_id
from featviz.fields import ALL_KINDS, JobFields, frozen
from featviz.problems import Problem, problem
from featviz.records import JobRecord
from featviz_engine.errors import Interrupted
from featviz_engine.render import prepare, render_pack
from featviz_engine.spec import RenderSpec
from worker.batches import Batch, plan_batch
from worker.context import WorkerContext
from worker.datasets import start_image
from worker.exemplars import run_shard
from worker.heartbeat import Heartbeat
from worker.running import (
    KnownFailure,
    ProgressReporter,
    hand_back,
    known_failure,
    settle,
    stop_check,
    use_uploaded_model,
)
from worker.writer import BatchWriter

logger = logging.getLogger(__name__)


_SHARED_ENGINE_FIELDS = [
    job_field.name for job_field in JobFields.of_engine() if job_field.kinds >= ALL_KINDS
]
"""The engine's fields that every kind of job has, copied as they are but the time budget."""


def render_spec(batch: Batch, time_budget_s: float) -> RenderSpec:
    """The engine's spec for a batch: its images' filters, all in one pack."""
    params = batch.params.model_dump()
    shared = {name: frozen(params[name]) for name in _SHARED_ENGINE_FIELDS}
    from_batch = {
        "filters": tuple(image.filter for image in batch.images),
        "tv_weight": batch.images[0].tv_weight,
        "batch_size": len(batch.images),
        "time_budget_s": min(params["time_budget_s"] or time_budget_s, time_budget_s),
    }
    return RenderSpec(**(shared | from_batch))


def execute(record: JobRecord, heartbeat: Heartbeat, context: WorkerContext) -> bool:
    """Optimise a claimed job's batch and record how it ended.

    Returns
    -------
    bool
        True when the job ended here, False when it was handed back (the worker is stopping).

    Raises
    ------
    Exception
        Anything the engine's own errors do not cover; the caller records it as a failure.
    """
    store = context.store
    attempt = heartbeat.attempt
    batch = plan_batch(record)
    writer = BatchWriter(context, batch)
    progress = ProgressReporter(context, record, batch.params.iterations)
    spec = render_spec(batch, context.settings.job_time_budget_s)
    outcome: Problem | None = None
    started = time.monotonic()

    stop_reason = stop_check(record, heartbeat, progress, context)
    try:
        if context.drain.draining:
            raise Interrupted("drain", -1)  # the worker began stopping as this job was claimed
        if is_uploaded_model_id(spec.model):
            use_uploaded_model(spec.model, record.owner, context)
        start = None
        if batch.params.start_image is not None:
            start = start_image(
                batch.params.start_image,
                record.owner,
                spec.image_size,
                context.datasets,
                context.storage,
                context.settings,
            )
            writer.start_image(start)
        resolved, program = prepare(spec, start_image=start is not None)
        prepared = time.monotonic()
        results = render_pack(
            resolved,
            program,
            [image.filter for image in batch.images],
            [image.tv_weight for image in batch.images],
            on_progress=progress.report,
            on_snapshot=writer.snapshot,
            should_stop=stop_reason,
            time_budget_s=spec.time_budget_s,
            start_image=start,
        )
        progress.flush()
        if context.drain.draining:
            logger.info("job %s: finished within the drain's grace", record.id)
        finished = time.monotonic()
        writer.finish(results, {"prepare_s": prepared - started, "optimise_s": finished - prepared})
    except Interrupted as stop:
        progress.flush()
        if stop.reason == "drain":
            hand_back(record, attempt, context)
            return False
        if stop.reason == "canceled":
            store.transition(record.id, ["running"], "canceled", attempt=attempt)
            return True
        outcome = problem(
            504,
            "time-budget",
            "Time budget exceeded",
            f"stopped after iteration {stop.iteration} of {spec.iterations}: the job's time "
            f"budget of {spec.time_budget_s:g} s ran out",
        )
    except KnownFailure as error:
        outcome = known_failure(error)
    settle(record, attempt, outcome, context)
    return True


def send_finish_when_due(layer_job_id: str, context: WorkerContext) -> None:
    """Send a layer (or exemplar) job's finish task once the script that ended its last pack put
    it in the outbox (``featviz/store/lua/fragments/settle.lua``): at once, rather than after
    the outbox's grace; should this worker die first, the reapers send it."""
    entry = outbox.entry("finish", layer_job_id)
    if context.store.redis.zscore(outbox.OUTBOX_KEY, entry) is not None:
        context.queue.dispatch(context.store.redis, [entry])


def run_job(job_id: str, context: WorkerContext) -> None:
    """Claim and run a job, a comparison, a pack or a shard; a delivery that may not run does
    nothing."""
    store = context.store
    record = store.get(job_id)
    if record is None:
        logger.warning("job %s does not exist; dropping its task", job_id)
        return
    settings = context.settings
    claim = store.claim(
        job_id, record.parent, context.identity, settings.max_attempts, settings.lease_s
    )
    logger.info("job %s: %s (attempt %d)", job_id, claim.outcome, claim.attempts)
    if claim.outcome == "leased":
        # Another delivery of the job is running it; this one is a duplicate.
        return
    if claim.outcome == "claimed":
        if record.parent is not None:
            store.transition(record.parent, ["queued"], "running")
        started = time.monotonic()
        heartbeat = Heartbeat(
            store, job_id, claim.attempts, settings.heartbeat_interval_s, settings.lease_s
        )
        try:
            with heartbeat:
                ended = (run_shard if record.kind == "shard" else execute)(
                    record, heartbeat, context
                )
        except redis.RedisError:
            # The store failed mid-run (Redis restarting, still loading its data): the job is
            # not at fault, so it is not failed. Its lease runs out and the reaper re-queues it.
            logger.exception("job %s: the job store failed; leaving the job to its lease", job_id)
            return
        except Exception as error:
            logger.exception("job %s failed", job_id)
            failure = problem(500, "worker-error", "The worker failed", type(error).__name__)
            store.transition(job_id, ["running"], "failed", attempt=claim.attempts, error=failure)
            ended = True
        if not ended:
            return  # handed back: its run, and a pack's count on its layer job, come later
        if record.parent is None:
            store.observe_duration(time.monotonic() - started)
    if record.parent is not None:
        send_finish_when_due(record.parent, context)
