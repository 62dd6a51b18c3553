"""Finishing a layer job once its packs are done: a contact sheet of every filter's final image
and the layer job's own status, from the counts its packs left."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from featviz.outputs import RESULT_FILE, SHEET_FILE, ImageFile, ImageResult, JobResult
from featviz.problems import problem
from featviz.records import TERMINAL_STATUSES, JobRecord, Status
from featviz_engine.artifacts import finals_sheet
from worker.context import WorkerContext
from worker.writer import put_job_file

logger = logging.getLogger(__name__)


def final_status(record: JobRecord) -> Status:
    assert record.counts is not None, "layer jobs have counts"
    if record.cancel_requested and record.counts.canceled:
        return "canceled"
    return "succeeded" if record.counts.succeeded else "failed"


def finish_layer_job(job_id: str, context: WorkerContext) -> None:
    """Write the sheet (partial when some filters failed) and ``result.json``, then settle the
    layer job's status; safe to run twice."""
    store = context.store
    record = store.get(job_id)
    if record is None or record.status in TERMINAL_STATUSES:
        return
    if record.finals:
        finals = [context.storage.get(entry.key) for entry in record.finals]
        sheet = finals_sheet(
            finals,
            [entry.filter for entry in record.finals],
            [entry.never_alive for entry in record.finals],
        )
        put_job_file(context, job_id, SHEET_FILE, sheet)
    summary = JobResult(
        job=job_id,
        spec=record.spec,
        images=[ImageResult.final_only(ImageFile.recorded(entry)) for entry in record.finals],
        counts=record.counts.model_dump() if record.counts else None,
    )
    put_job_file(context, job_id, RESULT_FILE, summary.encode())
    status = final_status(record)
    error = None
    if status == "failed":
        error = problem(500, "layer-job-failed", "No filter succeeded", "every pack failed")
    if store.transition(job_id, ["queued", "running"], status, error=error) and record.started_at:
        store.observe_duration((datetime.now(UTC) - record.started_at).total_seconds())
    logger.info("layer job %s: %s", job_id, status)
