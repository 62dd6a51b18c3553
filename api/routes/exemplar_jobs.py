"""``/v1/exemplar-jobs``: per filter of a layer, the images of a dataset that excite it most."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from api.deps import IdempotencyKey, LinkerDep, OwnerDep, StoreDep, SubmissionDep
from api.routes.jobs import ALREADY_FINISHED, cancel, owned_job
from api.views import JobView
from featviz.specs import ExemplarJobSpec

router = APIRouter(prefix="/v1/exemplar-jobs", tags=["exemplar jobs"])


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=JobView)
def create_exemplar_job(
    spec: ExemplarJobSpec,
    owner: OwnerDep,
    submission: SubmissionDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> JobView:
    """Rank a ready dataset's images by each filter's peak activation; shards of the dataset
    run on different workers, ``counts`` and ``progress`` are in images, and when done
    ``files`` holds per filter ``filter_0003/exemplars.png`` (the k crops of the receptive
    field around each peak), ``filter_0003/exemplars_full.png`` (the whole images, the peak
    marked) and ``result.json`` (image ids, scores, positions)."""
    return submission.submit("exemplar_job", spec, owner, idempotency_key, response)


@router.get("/{job_id}", response_model=JobView)
def get_exemplar_job(job_id: str, owner: OwnerDep, store: StoreDep, linker: LinkerDep) -> JobView:
    return linker.job(owned_job(store, job_id, owner, "exemplar_job"))


@router.post(
    "/{job_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobView,
    responses=ALREADY_FINISHED,
)
def cancel_exemplar_job(
    job_id: str, owner: OwnerDep, store: StoreDep, linker: LinkerDep
) -> JobView:
    return cancel(store, linker, job_id, owner, "exemplar_job")
