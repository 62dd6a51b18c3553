"""``/v1/datasets``: zips of images a key uploads, and the operator's datasets every key sees,
for exemplar jobs and start images.

As for models (``api.routes.models``), an upload is authenticated before its body is read and
streamed to storage by ``api.uploads``; a worker decodes every image and moves the dataset to
``ready`` or ``rejected``. The body size limit for this route is ``max_dataset_upload_bytes``.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, Field

from api.deps import DatasetStoreDep, OwnerDep, UploadsDep
from api.errors import ProblemError
from api.uploads import DatasetForm, multipart_body
from featviz.datasets import Dataset
from featviz.problems import problem
from featviz.upload_records import UploadStatus

DATASET_UPLOAD_PATH = "/v1/datasets"

router = APIRouter(prefix=DATASET_UPLOAD_PATH, tags=["datasets"])


class DatasetView(BaseModel):
    """A dataset: ``validating``, then ``ready`` with its image count, or ``rejected``."""

    id: str = Field(description="what an exemplar job's `dataset` names")
    name: str
    status: UploadStatus
    size_bytes: int
    created_at: datetime
    updated_at: datetime
    image_count: int | None = Field(description="images, once ready")
    reason: str | None = Field(description="why it was rejected")
    shared: bool = Field(
        description="the operator's (FEATVIZ_OPERATOR_DATASETS): every key sees it, none may "
        "delete it"
    )

    @classmethod
    def of(cls, record: Dataset) -> DatasetView:
        fields = record.model_dump(exclude={"owner", "file_key", "source"})
        return cls.model_validate(fields | {"shared": record.shared})


def _not_found(dataset_id: str) -> ProblemError:
    return ProblemError(problem(404, "not-found", "Not found", f"no dataset {dataset_id!r}"))


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DatasetView,
    responses={400: {"description": "a malformed multipart body"}},
    openapi_extra={"requestBody": multipart_body(DatasetForm)},
)
async def upload_dataset(
    request: Request, owner: OwnerDep, uploads: UploadsDep, response: Response
) -> DatasetView:
    """Upload a zip of JPEG/PNG images; a worker decodes them (poll until ``ready`` or
    ``rejected``)."""
    async with request.form(max_files=1, max_fields=1) as form:
        record = await uploads.upload_dataset(owner, form)
    response.headers["Location"] = f"{DATASET_UPLOAD_PATH}/{record.id}"
    return DatasetView.of(record)


@router.get("", response_model=list[DatasetView])
def list_datasets(owner: OwnerDep, datasets: DatasetStoreDep) -> list[DatasetView]:
    """The caller's datasets, newest first, then the operator's by name."""
    return [DatasetView.of(record) for record in datasets.list_owned(owner)]


@router.get("/{dataset_id}", response_model=DatasetView)
def get_dataset(dataset_id: str, owner: OwnerDep, datasets: DatasetStoreDep) -> DatasetView:
    record = datasets.get_owned(dataset_id, owner)
    if record is None:
        raise _not_found(dataset_id)
    return DatasetView.of(record)


@router.delete(
    "/{dataset_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={403: {"description": "an operator's dataset, which no key may delete"}},
)
def delete_dataset(
    dataset_id: str, owner: OwnerDep, datasets: DatasetStoreDep, uploads: UploadsDep
) -> Response:
    """Delete a dataset the key uploaded and its files; exemplar jobs queued on it then fail."""
    record = datasets.get_owned(dataset_id, owner)
    if record is not None and record.shared:
        detail = (
            f"dataset {dataset_id!r} is the operator's: it goes when the operator removes it "
            "from FEATVIZ_OPERATOR_DATASETS"
        )
        raise ProblemError(problem(403, "operator-dataset", "Operator dataset", detail))
    keys = [] if record is None else [record.file_key, record.manifest_key]
    if record is None or not uploads.delete(datasets, record.id, owner, keys):
        raise _not_found(dataset_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
