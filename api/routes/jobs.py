"""``/v1/jobs``: one filter under one TV weight; reading and canceling any kind of job."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from api.deps import IdempotencyKey, LinkerDep, OwnerDep, StoreDep, SubmissionDep
from api.errors import ProblemError
from api.views import JobPage, JobView, Linker
from featviz.problems import problem
from featviz.records import TERMINAL_STATUSES, JobKind, JobRecord, Status
from featviz.specs import JobSpec
from featviz.store import JobStore

router = APIRouter(prefix="/v1", tags=["jobs"])

ALREADY_FINISHED: dict[int | str, dict[str, Any]] = {
    409: {"description": "the job has already finished"}
}


def owned_job(store: JobStore, job_id: str, owner: str, kind: JobKind | None = None) -> JobRecord:
    """The caller's job; another key's job is as absent as one that never existed."""
    record = store.get_owned(job_id, owner)
    if record is None or (kind is not None and record.kind != kind):
        raise ProblemError(problem(404, "not-found", "Not found", f"no job {job_id!r}"))
    return record


def cancel(
    store: JobStore, linker: Linker, job_id: str, owner: str, kind: JobKind | None
) -> JobView:
    """Cancel a job: a queued one at once, a running one within a few iterations."""
    record = owned_job(store, job_id, owner, kind)
    if record.status in TERMINAL_STATUSES:
        raise ProblemError(
            problem(409, "conflict", "Conflict", f"the job has already {record.status}")
        )
    store.request_cancel(job_id)
    return linker.job(owned_job(store, job_id, owner))


@router.post("/jobs", status_code=status.HTTP_202_ACCEPTED, response_model=JobView)
def create_job(
    spec: JobSpec,
    owner: OwnerDep,
    submission: SubmissionDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> JobView:
    """Visualise one filter; answers 202 with the job and its ``Location``."""
    return submission.submit("job", spec, owner, idempotency_key, response)


@router.get("/jobs", response_model=JobPage)
def list_jobs(
    owner: OwnerDep,
    store: StoreDep,
    linker: LinkerDep,
    status_filter: Annotated[Status | None, Query(alias="status")] = None,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> JobPage:
    """The caller's jobs of every kind, newest first, a page at a time: every page but the last
    holds ``limit`` jobs (of the given ``status``), and ``next_cursor`` is null on the last."""
    records, next_cursor = store.list_owned(owner, status_filter, cursor, limit)
    return JobPage(items=[linker.job(r) for r in records], next_cursor=next_cursor)


@router.get("/jobs/{job_id}", response_model=JobView)
def get_job(job_id: str, owner: OwnerDep, store: StoreDep, linker: LinkerDep) -> JobView:
    """Any of the caller's jobs, whatever its kind."""
    return linker.job(owned_job(store, job_id, owner))


@router.post(
    "/jobs/{job_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobView,
    responses=ALREADY_FINISHED,
)
def cancel_job(job_id: str, owner: OwnerDep, store: StoreDep, linker: LinkerDep) -> JobView:
    """Ask a job of any kind to stop; 409 when it has already finished."""
    return cancel(store, linker, job_id, owner, None)
