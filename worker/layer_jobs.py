"""Finishing a layer job once its packs are done: a contact sheet of every filter's final image
and the layer job's own status, from the counts its packs left."""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, datetime

import numpy as np
from PIL import Image

from featviz.problems import problem
from featviz.records import TERMINAL_STATUSES, JobRecord, Status
from featviz_engine.artifacts import RESULT_NAME, SHEET_NAME
from featviz_engine.images import contact_sheet, encode_png
from worker.context import WorkerContext

logger = logging.getLogger(__name__)

SHEET_COLUMNS = 8


def decode_png(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as picture:
        return np.asarray(picture.convert("RGB"))


def layer_sheet(record: JobRecord, context: WorkerContext) -> bytes:
    """Every final image of the layer job in filter order, labelled with its filter index."""
    tiles = [decode_png(context.storage.get(entry.key)) for entry in record.finals]
    labels = [f"filter {entry.filter}" for entry in record.finals]
    return encode_png(contact_sheet(tiles, labels, columns=SHEET_COLUMNS))


def final_status(record: JobRecord) -> Status:
    assert record.counts is not None, "layer jobs have counts"
    if record.cancel_requested and record.counts.canceled:
        return "canceled"
    return "succeeded" if record.counts.succeeded else "failed"


def finish_layer_job(job_id: str, context: WorkerContext) -> None:
    """Write the sheet (partial when some filters failed) and ``result.json``, then settle the
    layer job's status; safe to run twice."""
    store, storage = context.store, context.storage
    record = store.get(job_id)
    if record is None or record.status in TERMINAL_STATUSES:
        return
    if record.finals:
        key = f"{job_id}/{SHEET_NAME}"
        storage.put(key, layer_sheet(record, context))
        store.set_file(job_id, SHEET_NAME, key)
    summary = {
        "job": job_id,
        "spec": record.spec,
        "counts": record.counts.model_dump() if record.counts else None,
        "finals": [entry.model_dump() for entry in record.finals],
    }
    result_key = f"{job_id}/{RESULT_NAME}"
    storage.put(result_key, json.dumps(summary, indent=2).encode())
    store.set_file(job_id, RESULT_NAME, result_key)
    status = final_status(record)
    error = None
    if status == "failed":
        error = problem(500, "layer-job-failed", "No filter succeeded", "every pack failed")
    if store.transition(job_id, ["queued", "running"], status, error=error) and record.started_at:
        store.observe_duration((datetime.now(UTC) - record.started_at).total_seconds())
    logger.info("layer job %s: %s", job_id, status)
