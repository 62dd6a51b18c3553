"""Writes what a batch produces: each snapshot as soon as it exists, then the final images,
per-image contact sheets and GIFs, a comparison's grid and ``result.json``, laid out as
featviz.outputs says."""

from __future__ import annotations

import numpy as np

from featviz.outputs import (
    RESULT_FILE,
    SHEET_FILE,
    START_FILE,
    ImageFile,
    ImageResult,
    JobResult,
    storage_key,
)
from featviz_engine.artifacts import comparison_grid, progression_gif, progression_sheet
from featviz_engine.images import encode_png
from featviz_engine.results import FilterResult, Snapshot
from worker.batches import Batch, BatchImage
from worker.context import WorkerContext


def put_job_file(context: WorkerContext, job_id: str, path: str, data: bytes) -> None:
    """Store a file in a job's folder and list it in the job's ``files``."""
    key = storage_key(job_id, path)
    context.storage.put(key, data)
    context.store.set_file(job_id, path, key)


class BatchWriter:
    """Uploads a batch's files under deterministic keys and records them on the job.

    Files belong to the job the user sees, so a layer job's folder holds, and its ``files``
    list, each of its filters' sheet and GIF.
    """

    def __init__(self, context: WorkerContext, batch: Batch) -> None:
        self.context = context
        self.batch = batch
        self._images = {(image.filter, image.tv_weight): image for image in batch.images}

    def _put_png(self, file: ImageFile, snapshot: Snapshot) -> None:
        key = storage_key(self.batch.top_job_id, file.path)
        self.context.storage.put(key, encode_png(snapshot.rgb))

    def start_image(self, rgb: np.ndarray) -> None:
        """Store the image the job starts from, to be shown beside what became of it."""
        put_job_file(self.context, self.batch.top_job_id, START_FILE, encode_png(rgb))

    def snapshot(self, snapshot: Snapshot) -> None:
        """Store one snapshot now, so that it stays even if the job is canceled later."""
        image = self._images[(snapshot.filter, snapshot.tv_weight)]
        file = ImageFile.of(snapshot, image.folder)
        self._put_png(file, snapshot)
        top = self.batch.top_job_id
        self.context.store.add_snapshot(self.batch.job_id, top, file.entry(top), image.column)

    def _finish_image(self, image: BatchImage, result: FilterResult) -> ImageResult:
        store, batch = self.context.store, self.batch
        summary = ImageResult.of(result, image.folder)
        assert result.final is not None, "render_pack always sets the final image"
        if not any(s.iteration == result.final.iteration for s in result.snapshots):
            self._put_png(summary.final, result.final)
        final = summary.final.entry(batch.top_job_id)
        store.add_final(batch.job_id, final, image.column)
        if batch.top_job_id != batch.job_id:
            store.add_final(batch.top_job_id, final, image.column)
        put_job_file(self.context, batch.top_job_id, image.folder.sheet, progression_sheet(result))
        put_job_file(self.context, batch.top_job_id, image.folder.gif, progression_gif(result))
        return summary

    def finish(self, results: list[FilterResult], timings: dict[str, float]) -> None:
        """Store the final images, per-image sheets and GIFs, the grid and ``result.json``;
        a layer job's sheet and ``result.json`` wait for all its packs (worker/layer_jobs.py)."""
        batch = self.batch
        images = [
            self._finish_image(image, result)
            for image, result in zip(batch.images, results, strict=True)
        ]
        if batch.top_job_id != batch.job_id:
            return
        if batch.kind == "comparison":
            put_job_file(self.context, batch.job_id, SHEET_FILE, comparison_grid(results))
        report = JobResult(
            job=batch.job_id, spec=batch.params.model_dump(), images=images, timings=timings
        )
        put_job_file(self.context, batch.job_id, RESULT_FILE, report.encode())
