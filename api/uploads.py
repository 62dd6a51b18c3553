"""Uploading and deleting models: the file in storage, the record, then the validation task.

The route parses the form (after authenticating, so an unknown key cannot make the API spool a
large file) and hands it here while it is open: the file goes from the spooled form straight to
storage, never whole into memory.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.datastructures import UploadFile as StarletteUploadFile

from api.errors import ProblemError, unavailable, validation_problem
from featviz import outbox
from featviz.model_files import (
    INPUT_RANGE_MEANING,
    MODEL_FILE_SUFFIX,
    NOT_A_MODEL_FILE,
    InputRange,
)
from featviz.problems import invalid_field
from featviz.queue import JobQueue
from featviz.storage import Storage
from featviz.user_models import ModelStore, UserModel, model_file_key, new_model_id

logger = logging.getLogger(__name__)


class UploadForm(BaseModel):
    """The form fields beside the file."""

    name: str = Field(min_length=1, max_length=200, description="a name to know it by")
    input_range: InputRange = Field(description=INPUT_RANGE_MEANING)


@dataclass(frozen=True)
class Uploads:
    models: ModelStore
    storage: Storage
    queue: JobQueue

    async def upload(self, owner: str, form: FormData) -> UserModel:
        """Store an uploaded ``.keras`` file, record the model ``validating`` and queue its
        validation.

        Raises
        ------
        ProblemError
            422 naming the field when the form is wrong; 503 when storage or the queue is down
            (a model that could not be queued is recorded ``rejected``, saying so).
        """
        upload = form.get("file")
        if not isinstance(upload, StarletteUploadFile):
            raise ProblemError(invalid_field("file", "attach the .keras file as `file`"))
        if not (upload.filename or "").endswith(MODEL_FILE_SUFFIX):
            raise ProblemError(invalid_field("file", NOT_A_MODEL_FILE))
        try:
            fields = UploadForm.model_validate({k: form.get(k) for k in UploadForm.model_fields})
        except ValidationError as error:
            raise ProblemError(validation_problem(error.errors())) from None
        model_id = new_model_id()
        file_key = model_file_key(owner, model_id)
        try:
            await run_in_threadpool(self.storage.put_file, file_key, upload.file)
        except Exception as error:
            detail = f"the model could not be stored: {type(error).__name__}"
            raise unavailable("storage-unavailable", detail) from error
        record = self.models.create(
            model_id, owner, fields.name, fields.input_range, upload.size or 0
        )

        def reject_unqueued() -> None:
            self.models.mark_rejected(
                model_id, "could not be queued for validation; upload it again"
            )

        try:
            self.queue.dispatch(
                self.models.redis, [outbox.entry("validate", model_id)], compensate=reject_unqueued
            )
        except Exception as error:
            raise unavailable("queue-unavailable", "could not enqueue") from error
        return record

    def delete(self, record: UserModel) -> bool:
        """Delete an uploaded model's record, then its file; False when it was already gone.

        The record goes first: a crash or a storage outage between the two leaves a stray file,
        never a model whose file is missing.
        """
        if not self.models.delete(record.id, record.owner):
            return False
        try:
            self.storage.delete(record.file_key)
        except Exception:
            logger.warning("model %s is deleted but its file %s stays", record.id, record.file_key)
        return True
