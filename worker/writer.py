"""Writes what a batch produces: each snapshot as soon as it exists, then the final images,
per-image contact sheets and GIFs, a comparison's grid and ``result.json``."""

from __future__ import annotations

import json
from typing import Any

from featviz.records import ImageEntry
from featviz_engine.artifacts import (
    GIF_NAME,
    RESULT_NAME,
    SHEET_NAME,
    progression_gif,
    progression_sheet,
    snapshot_name,
)
from featviz_engine.images import contact_sheet, encode_png
from featviz_engine.render import FilterResult, Snapshot
from worker.batches import Batch, BatchImage
from worker.context import WorkerContext


def comparison_grid(results: list[FilterResult]) -> bytes:
    """The seed's comparison figure: rows are snapshots, columns are TV weights."""
    rows = [frame.iteration for frame in results[0].frames]
    tiles, labels = [], []
    for row in range(len(rows)):
        for result in results:
            tiles.append(result.frames[row].rgb)
            labels.append(f"tv {result.tv_weight:g}")
    sheet = contact_sheet(
        tiles, labels, columns=len(results), row_labels=[f"iter {n}" for n in rows]
    )
    return encode_png(sheet)


class BatchWriter:
    """Uploads a batch's files under deterministic keys and records them on the job."""

    def __init__(self, context: WorkerContext, batch: Batch) -> None:
        self.context = context
        self.batch = batch
        self._images = {(image.filter, image.tv_weight): image for image in batch.images}

    def _put(self, key: str, data: bytes) -> None:
        # Files belong to the job the user sees, so a layer job lists each filter's sheet and GIF.
        self.context.storage.put(key, data)
        top = self.batch.top_job_id
        if key.startswith(f"{top}/"):
            self.context.store.set_file(top, key.split("/", 1)[1], key)

    def _entry(self, image: BatchImage, snapshot: Snapshot, upload: bool) -> ImageEntry:
        key = f"{image.folder}/{snapshot_name(snapshot.iteration)}"
        if upload:
            self.context.storage.put(key, encode_png(snapshot.rgb))
        return ImageEntry(
            filter=snapshot.filter,
            tv_weight=snapshot.tv_weight,
            iteration=snapshot.iteration,
            key=key,
            **snapshot.metrics,
        )

    def snapshot(self, snapshot: Snapshot) -> None:
        """Store one snapshot now, so that it stays even if the job is canceled later."""
        image = self._images[(snapshot.filter, snapshot.tv_weight)]
        entry = self._entry(image, snapshot, upload=True)
        self.context.store.add_snapshot(self.batch.job_id, entry, image.column)

    def finish(self, results: list[FilterResult], timings: dict[str, float]) -> None:
        """Store the final images, per-image sheets and GIFs, the grid and ``result.json``."""
        store, batch = self.context.store, self.batch
        report: list[dict[str, Any]] = []
        for image, result in zip(batch.images, results, strict=True):
            assert result.final is not None, "render_pack always sets the final image"
            already_stored = any(s.iteration == result.final.iteration for s in result.snapshots)
            final = self._entry(image, result.final, upload=not already_stored)
            store.add_final(batch.job_id, final, image.column)
            if batch.top_job_id != batch.job_id:
                store.add_final(batch.top_job_id, final, image.column)
            self._put(f"{image.folder}/{SHEET_NAME}", progression_sheet(result))
            self._put(f"{image.folder}/{GIF_NAME}", progression_gif(result))
            snapshots = [self._entry(image, s, upload=False) for s in result.snapshots]
            report.append(
                {
                    "filter": image.filter,
                    "tv_weight": image.tv_weight,
                    "folder": image.folder,
                    "snapshots": [s.model_dump() for s in snapshots],
                    "final": final.model_dump(),
                }
            )
        if batch.top_job_id != batch.job_id:
            return
        if batch.kind == "comparison":
            self._put(f"{batch.job_id}/{SHEET_NAME}", comparison_grid(results))
        result_file = {
            "job": batch.job_id,
            "spec": batch.params.model_dump(),
            "images": report,
            "timings": timings,
        }
        self._put(f"{batch.job_id}/{RESULT_NAME}", json.dumps(result_file, indent=2).encode())
