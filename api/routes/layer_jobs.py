"""``/v1/layer-jobs``: many filters of one layer, packed into batches optimised together."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from api.deps import IdempotencyKey, LinkerDep, OwnerDep, StoreDep, SubmissionDep
from api.routes.jobs import ALREADY_FINISHED, cancel, owned_job
from api.views import JobView
from featviz.specs import LayerJobSpec

router = APIRouter(prefix="/v1/layer-jobs", tags=["layer jobs"])


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=JobView)
def create_layer_job(
    spec: LayerJobSpec,
    owner: OwnerDep,
    submission: SubmissionDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> JobView:
    """Visualise every filter of a layer (or a list or range of them); ``counts`` reports how
    many finished, and ``files["sheet.png"]`` is a contact sheet of all of them when done."""
    return submission.submit("layer_job", spec, owner, idempotency_key, response)


@router.get("/{job_id}", response_model=JobView)
def get_layer_job(job_id: str, owner: OwnerDep, store: StoreDep, linker: LinkerDep) -> JobView:
    return linker.job(owned_job(store, job_id, owner, "layer_job"))


@router.post(
    "/{job_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobView,
    responses=ALREADY_FINISHED,
)
def cancel_layer_job(job_id: str, owner: OwnerDep, store: StoreDep, linker: LinkerDep) -> JobView:
    return cancel(store, linker, job_id, owner, "layer_job")
