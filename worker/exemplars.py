"""Exemplar jobs on the worker: a shard ranks its range of the dataset's images per filter, and
the last shard's finish merges the shards' top-k lists into the job's strips and result.json.

A shard keeps only ``k`` images per filter (``featviz_engine.exemplars.TopK``) and stores them
under a key of its own (``featviz.outputs.shard_result_key``), so a shard that dies and runs
again overwrites its list with the same one; the merge orders by score and then image id, so
it does not depend on which shard finished first.
"""

from __future__ import annotations

import logging

import numpy as np
from pydantic import BaseModel

from featviz.catalog import is_uploaded_model_id
from featviz.outputs import (
    RESULT_FILE,
    ExemplarImage,
    ExemplarJobResult,
    FilterExemplars,
    ImageFolder,
    ReceptiveFieldFacts,
    shard_result_key,
)
from featviz.problems import Problem, problem
from featviz.records import TERMINAL_STATUSES, JobRecord, Status
from featviz.specs import ExemplarJobSpec, ShardSpec
from featviz.store.keys import counted_packs_key
from featviz_engine.errors import Interrupted
from featviz_engine.exemplars import PeakFinder, TopK, crop_strip, marked_strip, receptive_field
from featviz_engine.models import Network, load_network
from worker.context import WorkerContext
from worker.datasets import DatasetImages, opened
from worker.heartbeat import Heartbeat
from worker.running import (
    KnownFailure,
    ProgressReporter,
    StopCheck,
    hand_back,
    known_failure,
    settle,
    stop_check,
    use_uploaded_model,
)
from worker.writer import put_job_file

logger = logging.getLogger(__name__)


class ShardResult(BaseModel):
    """A shard's top-k per filter (rows in the order of the job's filters)."""

    indices: list[list[int]]
    scores: list[list[float]]
    rows: list[list[int]]
    columns: list[list[int]]

    @classmethod
    def of(cls, top: TopK) -> ShardResult:
        return cls(
            indices=top.indices.tolist(),
            scores=top.scores.tolist(),
            rows=top.rows.tolist(),
            columns=top.columns.tolist(),
        )

    def top(self, k: int) -> TopK:
        found = TopK(len(self.indices), k)
        found.indices, found.scores = np.array(self.indices), np.array(self.scores)
        found.rows, found.columns = np.array(self.rows), np.array(self.columns)
        return found


def _network(spec: ExemplarJobSpec, owner: str, context: WorkerContext) -> Network:
    if is_uploaded_model_id(spec.model):
        use_uploaded_model(spec.model, owner, context)
    return load_network(spec.model, spec.weights)


def _rank(
    spec: ShardSpec,
    images: DatasetImages,
    finder: PeakFinder,
    progress: ProgressReporter,
    stop_reason: StopCheck,
    batch_images: int,
) -> TopK:
    """The shard's images through the network a batch at a time, ranked per filter."""
    top = TopK(len(spec.chosen_filters()), spec.k)
    span = spec.images
    for start in range(span.start, span.stop, batch_images):
        reason = stop_reason()
        if reason:
            raise Interrupted("drain" if reason == "drain" else "canceled", start - span.start)
        indices = list(range(start, min(start + batch_images, span.stop)))
        scores, rows, columns = finder(images.squares(indices, spec.image_size))
        top.add(np.array(indices), scores, rows, columns)
        progress.advance(indices[-1] + 1 - span.start)
    return top


def run_shard(record: JobRecord, heartbeat: Heartbeat, context: WorkerContext) -> bool:
    """Rank a claimed shard's images and store its top-k; True when the shard ended here,
    False when it was handed back (the worker is stopping)."""
    spec = ShardSpec.model_validate(record.spec)
    progress = ProgressReporter(context, record, spec.images.stop - spec.images.start)
    stop_reason = stop_check(record, heartbeat, progress, context)
    outcome: Problem | None = None
    try:
        if context.drain.draining:
            raise Interrupted("drain", -1)
        network = _network(spec, record.owner, context)
        finder = PeakFinder(network, spec.layer, spec.chosen_filters())
        dataset = context.datasets.get_owned(spec.dataset or "", record.owner)
        with opened(dataset, context.storage, context.settings) as images:
            top = _rank(
                spec, images, finder, progress, stop_reason, context.settings.exemplar_batch_images
            )
        progress.flush()
        assert record.parent is not None, "shards belong to an exemplar job"
        key = shard_result_key(record.parent, record.id)
        context.storage.put(key, ShardResult.of(top).model_dump_json().encode())
    except Interrupted as stop:
        progress.flush()
        if stop.reason == "drain":
            hand_back(record, heartbeat.attempt, context)
            return False
        context.store.transition(record.id, ["running"], "canceled", attempt=heartbeat.attempt)
        return True
    except KnownFailure as error:
        outcome = known_failure(error)
    settle(record, heartbeat.attempt, outcome, context)
    return True


def _final_status(record: JobRecord) -> Status:
    """Every image must have been ranked: a top-k missing a shard's images would be wrong."""
    assert record.counts is not None, "exemplar jobs have counts"
    if record.cancel_requested and record.counts.canceled:
        return "canceled"
    return "succeeded" if record.counts.succeeded == record.counts.total else "failed"


def _merged(job_id: str, spec: ExemplarJobSpec, context: WorkerContext) -> TopK:
    merged = TopK(len(spec.chosen_filters()), spec.k)
    for shard in sorted(context.store.redis.smembers(counted_packs_key(job_id))):
        stored = context.storage.get(shard_result_key(job_id, shard))
        merged.merge(ShardResult.model_validate_json(stored).top(spec.k))
    return merged


def _write_outputs(record: JobRecord, context: WorkerContext) -> None:
    """Each filter's strips and the job's ``result.json`` from its shards' lists."""
    spec = ExemplarJobSpec.model_validate(record.spec)
    merged = _merged(record.id, spec, context)
    network = _network(spec, record.owner, context)
    field = receptive_field(network, spec.layer, spec.image_size)
    dataset = context.datasets.get_owned(spec.dataset or "", record.owner)
    filters = []
    with opened(dataset, context.storage, context.settings) as images:
        for position, filter_index in enumerate(spec.chosen_filters()):
            best = merged.best(position)
            pixels = list(images.squares([found.index for found in best], spec.image_size))
            boxes = [field.box(found.row, found.column, spec.image_size) for found in best]
            labels = [f"{found.score:.3g}" for found in best]
            folder = ImageFolder.of(filter_index)
            put_job_file(
                context, record.id, folder.exemplar_crops, crop_strip(pixels, boxes, labels)
            )
            put_job_file(
                context, record.id, folder.exemplar_images, marked_strip(pixels, boxes, labels)
            )
            exemplars = [
                ExemplarImage(
                    image=images.manifest.images[found.index].id,
                    index=found.index,
                    score=found.score,
                    row=found.row,
                    column=found.column,
                    box=box,
                )
                for found, box in zip(best, boxes, strict=True)
            ]
            filters.append(
                FilterExemplars(
                    filter=filter_index,
                    crops=folder.exemplar_crops,
                    images=folder.exemplar_images,
                    exemplars=exemplars,
                )
            )
    result = ExemplarJobResult(
        job=record.id,
        spec=record.spec,
        receptive_field=ReceptiveFieldFacts(
            size=field.size, stride=field.stride, offset=field.offset
        ),
        filters=filters,
        counts=record.counts.model_dump() if record.counts else None,
    )
    put_job_file(context, record.id, RESULT_FILE, result.encode())


def finish_exemplar_job(job_id: str, context: WorkerContext) -> None:
    """Merge the shards' lists into the strips and ``result.json`` and settle the job once
    every shard is done; safe to run twice (the files are the same)."""
    store = context.store
    record = store.get(job_id)
    if record is None or record.status in TERMINAL_STATUSES:
        return
    status = _final_status(record)
    error = None
    if status == "failed":
        error = problem(500, "exemplar-job-failed", "Not every image was ranked", "a shard failed")
    elif status == "succeeded":
        try:
            _write_outputs(record, context)
        except KnownFailure as failure:
            status, error = "failed", known_failure(failure)
    store.transition(job_id, ["queued", "running"], status, error=error)
    logger.info("exemplar job %s: %s", job_id, status)
