"""Every kind of job runs as one batch of images optimised together; this says which images.

- a job: one image, its filter under its TV weight;
- a comparison: one image per TV weight, all of the same filter;
- a pack of a layer job: one image per filter of the pack, all under the layer job's TV weight.

Storage keys are deterministic, so a rerun overwrites its files: an image's files live in its
folder (featviz.outputs.ImageFolder) in the folder of the top-level job (a layer job for its
packs).
"""

from __future__ import annotations

from dataclasses import dataclass

from featviz.outputs import ImageFolder
from featviz.records import JobKind, JobRecord
from featviz.specs import ComparisonSpec, JobSpec, LayerJobSpec, RenderParams


@dataclass(frozen=True)
class BatchImage:
    """One image of a batch."""

    filter: int
    tv_weight: float
    column: int
    """Its position in the batch: the column of a comparison's grid."""
    folder: ImageFolder
    """Where its files go in the top-level job's folder."""


@dataclass(frozen=True)
class Batch:
    job_id: str
    kind: JobKind
    top_job_id: str
    """The job the user sees: the layer job for a pack, else the job itself."""
    params: RenderParams
    images: list[BatchImage]


def plan_batch(record: JobRecord) -> Batch:
    """The images a job record asks for, and where their files go."""
    top = record.parent or record.id
    params: RenderParams
    if record.kind == "job":
        job = JobSpec.model_validate(record.spec)
        images = [BatchImage(job.filter, job.denoising_weight, 0, ImageFolder.of(job.filter))]
        params = job
    elif record.kind == "comparison":
        comparison = ComparisonSpec.model_validate(record.spec)
        images = [
            BatchImage(comparison.filter, weight, column, ImageFolder.of(comparison.filter, column))
            for column, weight in enumerate(comparison.tv_weights)
        ]
        params = comparison
    elif record.kind == "pack":
        layer_job = LayerJobSpec.model_validate(record.spec)
        images = [
            BatchImage(index, layer_job.denoising_weight, column, ImageFolder.of(index))
            for column, index in enumerate(layer_job.chosen_filters())
        ]
        params = layer_job
    else:
        raise ValueError(f"a {record.kind} is not run as one batch")
    return Batch(record.id, record.kind, top, params, images)
