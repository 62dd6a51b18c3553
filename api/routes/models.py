"""``/v1/models``: the catalog of networks and their layers, and the models keys upload.

An upload is authenticated before its body is read (the form is parsed inside the route, not by
FastAPI ahead of the dependencies), so an unknown key cannot make the API spool a large file;
``api.uploads`` does the rest. The body size limit for this route is ``max_model_upload_bytes``
(see ``api.main``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ModelStoreDep, OwnerDep, UploadsDep
from api.errors import ProblemError
from api.uploads import UploadForm, multipart_body
from featviz.catalog import CatalogLayer, CatalogModel, load_catalog
from featviz.model_files import InputRange
from featviz.problems import problem
from featviz.user_models import ModelStatus, UserModel

MODEL_UPLOAD_PATH = "/v1/models"

router = APIRouter(prefix="/v1/models", tags=["models"])


class ModelSummary(BaseModel):
    """A model jobs can name: a catalog model, or one of the caller's uploads."""

    model_config = ConfigDict(protected_namespaces=())

    id: str = Field(description="what a job's `model` names: the catalog name or the upload id")
    name: str
    kind: Literal["builtin", "uploaded"]
    status: ModelStatus
    input_size: int | None
    min_input_size: int | None
    preprocessing: str
    layer_count: int


class UploadedModelView(BaseModel):
    """An uploaded model: ``validating``, then ``ready`` with its layers or ``rejected``."""

    id: str = Field(description="what a job's `model` names")
    name: str
    kind: Literal["uploaded"] = "uploaded"
    status: ModelStatus
    input_range: InputRange
    size_bytes: int
    created_at: datetime
    updated_at: datetime
    input_size: int | None = Field(description="the one image size it takes; null: any")
    min_input_size: int | None
    layers: list[CatalogLayer] = Field(description="4-D layers, once ready")
    reason: str | None = Field(description="why it was rejected")

    @classmethod
    def of(cls, record: UserModel) -> UploadedModelView:
        return cls.model_validate(record.model_dump(exclude={"owner", "file_key"}))


def _summary(record: UserModel) -> ModelSummary:
    return ModelSummary(
        id=record.id,
        name=record.name,
        kind="uploaded",
        status=record.status,
        input_size=record.input_size,
        min_input_size=record.min_input_size,
        preprocessing=record.input_range,
        layer_count=len(record.layers),
    )


def _not_found(name: str) -> ProblemError:
    return ProblemError(problem(404, "not-found", "Not found", f"no model {name!r}"))


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=UploadedModelView,
    responses={400: {"description": "a malformed multipart body"}},
    openapi_extra={"requestBody": multipart_body(UploadForm)},
)
async def upload_model(
    request: Request, owner: OwnerDep, uploads: UploadsDep, response: Response
) -> UploadedModelView:
    """Upload a ``.keras`` model; a worker validates it (poll until ``ready`` or ``rejected``)."""
    async with request.form(max_files=1, max_fields=2) as form:
        record = await uploads.upload(owner, form)
    response.headers["Location"] = f"{MODEL_UPLOAD_PATH}/{record.id}"
    return UploadedModelView.of(record)


@router.get("", response_model=list[ModelSummary])
def list_models(owner: OwnerDep, models: ModelStoreDep) -> list[ModelSummary]:
    """The catalog's models, then the caller's uploads (newest first); ``/v1/models/{id}``
    lists a model's layers."""
    builtin = [
        ModelSummary(
            id=model.name,
            name=model.name,
            kind="builtin",
            status="ready",
            input_size=model.input_size,
            min_input_size=model.min_input_size,
            preprocessing=model.preprocessing,
            layer_count=len(model.layers),
        )
        for model in load_catalog().models.values()
    ]
    return builtin + [_summary(record) for record in models.list_owned(owner)]


@router.get("/{name}", response_model=CatalogModel | UploadedModelView)
def get_model(
    name: str, owner: OwnerDep, models: ModelStoreDep
) -> CatalogModel | UploadedModelView:
    """One model with its layers, their channel counts and the smallest image each accepts."""
    builtin = load_catalog().models.get(name)
    if builtin is not None:
        return builtin
    record = models.get_owned(name, owner)
    if record is None:
        raise _not_found(name)
    return UploadedModelView.of(record)


@router.delete(
    "/{name}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={403: {"description": "a catalog model, which stays"}},
)
def delete_model(
    name: str, owner: OwnerDep, models: ModelStoreDep, uploads: UploadsDep
) -> Response:
    """Delete an upload; jobs already queued on it fail when they run. Catalog models stay."""
    if name in load_catalog().models:
        raise ProblemError(problem(403, "forbidden", "Forbidden", f"{name!r} is a catalog model"))
    record = models.get_owned(name, owner)
    if record is None or not uploads.delete(models, record.id, owner, [record.file_key]):
        raise _not_found(name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
