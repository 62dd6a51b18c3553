"""The Celery tasks: thin wrappers that hand a job id to the code that runs it."""

from __future__ import annotations

from collections.abc import Callable

from featviz.queue import (
    FINISH_LAYER_JOB_TASK,
    RUN_JOB_TASK,
    VALIDATE_DATASET_TASK,
    VALIDATE_MODEL_TASK,
)
from featviz_engine.model_validation import model_file_limits
from worker.app import app
from worker.context import WorkerContext, worker_context
from worker.datasets import validate_dataset
from worker.exemplars import finish_exemplar_job
from worker.layer_jobs import finish_layer_job
from worker.runner import run_job
from worker.user_models import validate_model

FINISHERS: dict[str, Callable[[str, WorkerContext], None]] = {
    "layer_job": finish_layer_job,
    "exemplar_job": finish_exemplar_job,
}


@app.task(name=RUN_JOB_TASK)
def run_job_task(job_id: str) -> None:
    """Run a job, a comparison or one pack of a layer job."""
    run_job(job_id, worker_context())


@app.task(name=FINISH_LAYER_JOB_TASK)
def finish_layer_job_task(job_id: str) -> None:
    """Once all its packs (shards) are done, make a layer job's contact sheet (an exemplar
    job's strips) and settle its status."""
    context = worker_context()
    record = context.store.get(job_id)
    if record is not None:
        FINISHERS[record.kind](job_id, context)


@app.task(name=VALIDATE_MODEL_TASK)
def validate_model_task(model_id: str) -> None:
    """Load an uploaded model in safe mode and catalogue its layers, or reject it."""
    context = worker_context()
    limits = model_file_limits(context.settings)
    validate_model(model_id, context.models, context.storage, context.settings.max_attempts, limits)


@app.task(name=VALIDATE_DATASET_TASK)
def validate_dataset_task(dataset_id: str) -> None:
    """Decode an uploaded dataset's images in a resource-limited child, or reject it."""
    context = worker_context()
    validate_dataset(dataset_id, context.datasets, context.storage, context.settings)
