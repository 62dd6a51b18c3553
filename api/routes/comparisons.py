"""``/v1/comparisons``: one filter under several TV weights, side by side."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from api.deps import IdempotencyKey, LinkerDep, OwnerDep, StoreDep, SubmissionDep
from api.routes.jobs import ALREADY_FINISHED, cancel, owned_job
from api.views import JobView
from featviz.specs import ComparisonSpec

router = APIRouter(prefix="/v1/comparisons", tags=["comparisons"])


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=JobView)
def create_comparison(
    spec: ComparisonSpec,
    owner: OwnerDep,
    submission: SubmissionDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> JobView:
    """Optimise one filter once per TV weight, as one batch; ``files["sheet.png"]`` is the grid
    (rows: snapshots, columns: TV weights)."""
    return submission.submit("comparison", spec, owner, idempotency_key, response)


@router.get("/{job_id}", response_model=JobView)
def get_comparison(job_id: str, owner: OwnerDep, store: StoreDep, linker: LinkerDep) -> JobView:
    return linker.job(owned_job(store, job_id, owner, "comparison"))


@router.post(
    "/{job_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobView,
    responses=ALREADY_FINISHED,
)
def cancel_comparison(job_id: str, owner: OwnerDep, store: StoreDep, linker: LinkerDep) -> JobView:
    return cancel(store, linker, job_id, owner, "comparison")
