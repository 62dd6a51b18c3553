"""Uploading and deleting models and datasets: the file in storage, the record, then the
validation task.

The route parses the form (after authenticating, so an unknown key cannot make the API spool a
large file) and hands it here while it is open: the file goes from the spooled form straight to
storage, never whole into memory.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.datastructures import UploadFile as StarletteUploadFile

from api.errors import ProblemError, unavailable, validation_problem
from featviz import outbox
from featviz.datasets import DATASET_FILE_SUFFIX, Dataset, DatasetStore, archive_key, new_dataset_id
from featviz.model_files import (
    INPUT_RANGE_MEANING,
    MODEL_FILE_FORMAT,
    MODEL_FILE_SUFFIX,
    InputRange,
)
from featviz.problems import invalid_field
from featviz.queue import JobQueue
from featviz.storage import Storage
from featviz.upload_records import UploadRecords
from featviz.user_models import ModelStore, UserModel, model_file_key, new_model_id

logger = logging.getLogger(__name__)


class UploadForm(BaseModel):
    """The form fields beside the file."""

    name: str = Field(min_length=1, max_length=200, description="a name to know it by")
    input_range: InputRange = Field(description=INPUT_RANGE_MEANING)


class DatasetForm(BaseModel):
    """The form field beside a dataset's archive."""

    name: str = Field(min_length=1, max_length=200, description="a name to know it by")


Form = TypeVar("Form", bound=BaseModel)


def multipart_body(form: type[BaseModel]) -> dict[str, Any]:
    """An upload's multipart form for the OpenAPI document, which cannot see a form parsed by
    hand: ``file`` and the fields of ``form``."""
    schema = form.model_json_schema()
    schema["properties"]["file"] = {"type": "string", "format": "binary"}
    schema["required"] = ["file", *schema["required"]]
    return {"required": True, "content": {"multipart/form-data": {"schema": schema}}}


def _attached(form: FormData, suffix: str, what: str) -> StarletteUploadFile:
    """The form's ``file``, named with ``suffix``.

    Raises
    ------
    ProblemError
        422 naming ``file``.
    """
    upload = form.get("file")
    if not isinstance(upload, StarletteUploadFile):
        raise ProblemError(invalid_field("file", f"attach the {suffix} file as `file`"))
    if not (upload.filename or "").lower().endswith(suffix):
        raise ProblemError(invalid_field("file", f"must be a {suffix} file ({what})"))
    return upload


def _fields(form: FormData, model: type[Form]) -> Form:
    try:
        return model.model_validate({k: form.get(k) for k in model.model_fields})
    except ValidationError as error:
        raise ProblemError(validation_problem(error.errors())) from None


@dataclass(frozen=True)
class Uploads:
    models: ModelStore
    datasets: DatasetStore
    storage: Storage
    queue: JobQueue

    async def _store(self, key: str, upload: StarletteUploadFile, what: str) -> None:
        try:
            await run_in_threadpool(self.storage.put_file, key, upload.file)
        except Exception as error:
            detail = f"the {what} could not be stored: {type(error).__name__}"
            raise unavailable("storage-unavailable", detail) from error

    def _queue_validation(self, records: UploadRecords[Any], ident: str) -> None:
        """Send the validation task recorded with the upload; an upload that cannot be queued
        is recorded ``rejected``, saying so."""

        def reject_unqueued() -> None:
            records.mark_rejected(ident, "could not be queued for validation; upload it again")

        entry = outbox.entry(records.task, ident)
        try:
            self.queue.dispatch(records.redis, [entry], compensate=reject_unqueued)
        except Exception as error:
            raise unavailable("queue-unavailable", "could not enqueue") from error

    async def upload(self, owner: str, form: FormData) -> UserModel:
        """Store an uploaded ``.keras`` file, record the model ``validating`` and queue its
        validation.

        Raises
        ------
        ProblemError
            422 naming the field when the form is wrong; 503 when storage or the queue is down
            (a model that could not be queued is recorded ``rejected``, saying so).
        """
        upload = _attached(form, MODEL_FILE_SUFFIX, MODEL_FILE_FORMAT)
        fields = _fields(form, UploadForm)
        model_id = new_model_id()
        await self._store(model_file_key(owner, model_id), upload, "model")
        record = self.models.create(
            model_id, owner, fields.name, fields.input_range, upload.size or 0
        )
        self._queue_validation(self.models, model_id)
        return record

    async def upload_dataset(self, owner: str, form: FormData) -> Dataset:
        """Store an uploaded zip of images, record the dataset ``validating`` and queue the
        worker that decodes it (see ``upload``)."""
        upload = _attached(form, DATASET_FILE_SUFFIX, "a zip of JPEG or PNG images")
        fields = _fields(form, DatasetForm)
        dataset_id = new_dataset_id()
        await self._store(archive_key(owner, dataset_id), upload, "dataset")
        record = self.datasets.create(dataset_id, owner, fields.name, upload.size or 0)
        self._queue_validation(self.datasets, dataset_id)
        return record

    def delete(self, records: UploadRecords[Any], ident: str, owner: str, keys: list[str]) -> bool:
        """Delete an upload's record, then its files; False when it was already gone.

        The record goes first: a crash or a storage outage between the two leaves stray files,
        never an upload whose files are missing.
        """
        if not records.delete(ident, owner):
            return False
        for key in keys:
            try:
                self.storage.delete(key)
            except Exception:
                logger.warning("%s %s is deleted but its file %s stays", records.kind, ident, key)
        return True
