"""Models that API keys upload: their records in Redis and how a ready one joins the catalog.

Records are kept as ``featviz.upload_records`` keeps every upload (``fv:model:{id}``,
``fv:owner-models:{owner}``): recorded ``validating``, a worker loads the file and moves it,
once, to ``ready`` (with its layers) or ``rejected`` (with the reason).
"""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict, Field

from featviz.catalog import UPLOADED_MODEL_ID_PREFIX, CatalogLayer, CatalogModel
from featviz.model_files import MODEL_FILE_SUFFIX, InputRange
from featviz.store import new_job_id
from featviz.upload_records import HashFields, UploadRecord, UploadRecords, UploadStatus

ModelStatus = UploadStatus


def new_model_id() -> str:
    """An id that sorts by creation time and cannot be mistaken for a catalog name."""
    return f"{UPLOADED_MODEL_ID_PREFIX}{new_job_id()}"


def model_file_key(owner: str, model_id: str) -> str:
    """The storage key of an uploaded file: in the uploading key's namespace."""
    return f"models/{owner}/{model_id}{MODEL_FILE_SUFFIX}"


class UserModel(UploadRecord):
    """An uploaded model as the store keeps it."""

    model_config = ConfigDict(protected_namespaces=())

    input_range: InputRange
    input_size: int | None = Field(
        default=None, description="the one image size the model takes; null when any goes"
    )
    min_input_size: int | None = None
    layers: list[CatalogLayer] = Field(default_factory=list)

    def as_catalog_model(self) -> CatalogModel:
        """The model as job specs are validated against it (ready models only)."""
        assert self.min_input_size is not None, "ready models have their catalog"
        return CatalogModel(
            name=self.id,
            input_size=self.input_size or self.min_input_size,
            min_input_size=self.min_input_size,
            preprocessing=self.input_range,
            layers=self.layers,
            fixed_input_size=self.input_size,
        )


class ModelCatalogEntry(BaseModel):
    """What a worker found in a valid upload."""

    input_size: int | None
    min_input_size: int
    layers: list[CatalogLayer]


class ModelStore(UploadRecords[UserModel]):
    """Uploaded-model records in Redis (a client created with ``decode_responses=True``)."""

    kind = "model"
    task = "validate"

    def create(
        self, model_id: str, owner: str, name: str, input_range: InputRange, size_bytes: int
    ) -> UserModel:
        """Record an upload whose file is already stored, as ``validating``, with its
        validation task in the outbox."""
        fields: HashFields = {
            "name": name,
            "input_range": input_range,
            "size_bytes": size_bytes,
            "file_key": model_file_key(owner, model_id),
        }
        return self._create(model_id, owner, fields)

    def decode(self, fields: dict[str, str]) -> UserModel:
        values: dict[str, object] = dict(fields)
        values["layers"] = json.loads(fields.get("layers", "[]"))
        for optional in ("input_size", "min_input_size", "reason"):
            if fields.get(optional, "") == "":
                values.pop(optional, None)
        return UserModel.model_validate(values)

    def mark_ready(self, model_id: str, entry: ModelCatalogEntry) -> bool:
        """Record a validated model's catalog; False when it was deleted meanwhile."""
        layers = json.dumps([layer.model_dump() for layer in entry.layers])
        return self._move(
            model_id,
            "ready",
            layers=layers,
            input_size="" if entry.input_size is None else str(entry.input_size),
            min_input_size=str(entry.min_input_size),
        )
