"""The Celery tasks: thin wrappers that hand a job id to the code that runs it."""

from __future__ import annotations

from featviz.queue import FINISH_LAYER_JOB_TASK, RUN_JOB_TASK, VALIDATE_MODEL_TASK
from featviz_engine.model_validation import model_file_limits
from worker.app import app
from worker.context import worker_context
from worker.layer_jobs import finish_layer_job
from worker.runner import run_job
from worker.user_models import validate_model


@app.task(name=RUN_JOB_TASK)
def run_job_task(job_id: str) -> None:
    """Run a job, a comparison or one pack of a layer job."""
    run_job(job_id, worker_context())


@app.task(name=FINISH_LAYER_JOB_TASK)
def finish_layer_job_task(job_id: str) -> None:
    """Make a layer job's contact sheet and settle its status once all its packs are done."""
    finish_layer_job(job_id, worker_context())


@app.task(name=VALIDATE_MODEL_TASK)
def validate_model_task(model_id: str) -> None:
    """Load an uploaded model in safe mode and catalogue its layers, or reject it."""
    context = worker_context()
    limits = model_file_limits(context.settings)
    validate_model(model_id, context.models, context.storage, context.settings.max_attempts, limits)
