"""Datasets that API keys upload (a zip of JPEG/PNG images): their records and where they are.

A dataset is recorded ``validating`` (``featviz.upload_records``: ``fv:dataset:{id}``,
``fv:owner-datasets:{owner}``); a worker checks the archive and decodes every image in a limited
child process (``worker.dataset_check``) and moves it to ``ready`` with its manifest, or
``rejected`` with the reason.

Storage, in the uploading key's namespace::

    datasets/{owner}/{id}/upload.zip      the archive as uploaded
    datasets/{owner}/{id}/manifest.json   the images a worker decoded (``Manifest``)

An image's id is its name in the archive; the manifest lists images sorted by id, and exemplar
jobs refer to an image by its place in that list (so a tie between two images is broken by id).

Operator datasets (``FEATVIZ_OPERATOR_DATASETS``, name -> storage URL) are the same records,
owned by ``OPERATOR`` (no API key's hash), with the URL in ``source``: every key sees them and
none can delete them. A worker copies the objects under the URL into the archive above, then
checks it as it checks an upload (``worker.operator_datasets``); from there on both kinds are
one: the same manifest, the same reads.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import cast

import redis
from pydantic import BaseModel, Field

from featviz import outbox
from featviz.settings import OPERATOR_DATASET_NAME
from featviz.store import new_job_id
from featviz.upload_records import HashFields, UploadRecord, UploadRecords

DATASET_ID_PREFIX = "dst_"
OPERATOR_ID_PREFIX = f"{DATASET_ID_PREFIX}op_"
_DATASET_ID = re.compile(
    rf"^({DATASET_ID_PREFIX}[0-9a-f]{{28}}|{OPERATOR_ID_PREFIX}{OPERATOR_DATASET_NAME})$"
)
OPERATOR = "operator"
"""The owner of the operator's datasets: not a SHA-256 hex digest, so no API key's."""
DATASET_FILE_SUFFIX = ".zip"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
"""Members with other suffixes are refused, naming the first."""


def new_dataset_id() -> str:
    """An id that sorts by creation time."""
    return f"{DATASET_ID_PREFIX}{new_job_id()}"


def is_dataset_id(name: str) -> bool:
    return _DATASET_ID.match(name) is not None


def operator_dataset_id(name: str) -> str:
    """The id of the operator dataset of that name (``FEATVIZ_OPERATOR_DATASETS``)."""
    return f"{OPERATOR_ID_PREFIX}{name}"


def start_image_parts(reference: str) -> tuple[str, str]:
    """A job's ``start_image``, ``dst_.../name/in/the/zip.png``: its dataset id and image id.

    Raises
    ------
    ValueError
        When it is not a dataset id, a slash and a name.
    """
    dataset_id, _, image_id = reference.partition("/")
    if not is_dataset_id(dataset_id) or not image_id:
        raise ValueError(
            f"{reference!r} is not dst_<id>/<image>: a dataset id, a slash and an image's name "
            "in its zip"
        )
    return dataset_id, image_id


def dataset_folder(owner: str, dataset_id: str) -> str:
    return f"datasets/{owner}/{dataset_id}"


def archive_key(owner: str, dataset_id: str) -> str:
    """The storage key of the uploaded archive."""
    return f"{dataset_folder(owner, dataset_id)}/upload{DATASET_FILE_SUFFIX}"


def manifest_key(owner: str, dataset_id: str) -> str:
    """The storage key of the manifest a worker writes once every image decoded."""
    return f"{dataset_folder(owner, dataset_id)}/manifest.json"


class DatasetImage(BaseModel):
    """One image of a dataset, as decoded."""

    id: str = Field(description="its name in the archive")
    width: int
    height: int


class Manifest(BaseModel):
    """Every image of a ready dataset, sorted by id."""

    images: list[DatasetImage]

    def encode(self) -> bytes:
        return self.model_dump_json().encode()


class Dataset(UploadRecord):
    """An uploaded dataset as the store keeps it."""

    image_count: int | None = Field(default=None, description="images, once ready")
    source: str | None = Field(
        default=None, description="an operator dataset's storage URL, its images copied from"
    )
    unreadable: bool = Field(
        default=False, description="rejected because its files could not be read, not for them"
    )

    @property
    def manifest_key(self) -> str:
        return manifest_key(self.owner, self.id)

    @property
    def shared(self) -> bool:
        """The operator's: every key sees it, none may delete it."""
        return self.owner == OPERATOR


class DatasetStore(UploadRecords[Dataset]):
    """Dataset records in Redis (a client created with ``decode_responses=True``)."""

    kind = "dataset"
    task = "validate_dataset"

    def create(self, dataset_id: str, owner: str, name: str, size_bytes: int) -> Dataset:
        """Record an upload whose archive is already stored, ``validating``."""
        fields: HashFields = {
            "name": name,
            "size_bytes": size_bytes,
            "file_key": archive_key(owner, dataset_id),
        }
        return self._create(dataset_id, owner, fields)

    def decode(self, fields: dict[str, str]) -> Dataset:
        values = {name: value for name, value in fields.items() if value != ""}
        return Dataset.model_validate(values)

    def get_owned(self, ident: str, owner: str) -> Dataset | None:
        """The record if ``owner`` uploaded it or it is the operator's; another key's upload is
        as absent as none."""
        record = self.get(ident)
        return record if record is not None and record.owner in (owner, OPERATOR) else None

    def list_owned(self, owner: str) -> list[Dataset]:
        """The owner's uploads, newest first, then the operator's datasets by name."""
        return super().list_owned(owner) + self.operator_datasets()

    def operator_datasets(self) -> list[Dataset]:
        ids = self.redis.zrangebylex(self.owner_key(OPERATOR), "-", "+")
        records = (self.get(ident) for ident in ids)
        return [record for record in records if record is not None]

    def register_operator(self, name: str, source: str) -> bool:
        """Record the operator dataset ``name`` ``validating``, its check in the outbox, unless
        it is recorded from the same ``source`` and not rejected as unreadable; True when it
        was.

        One whose URL could not be read is checked again (the bucket may have been missing),
        one rejected for its images is not (each start of a worker would copy them again).
        Workers starting together register each once: the record is watched, and the losers
        of a race leave it to the winner.
        """
        ident = operator_dataset_id(name)
        key = self.record_key(ident)
        with self.redis.pipeline(transaction=True) as pipe:
            try:
                pipe.watch(key)
                fields_now = ["source", "unreadable"]
                recorded, unreadable = cast(list[str | None], pipe.hmget(key, fields_now))
                if recorded == source and unreadable is None:
                    return False
                now = datetime.now(UTC).isoformat()
                queued_at = outbox.redis_now(self.redis)
                pipe.multi()
                pipe.delete(key)
                fields: HashFields = {
                    "name": name,
                    "size_bytes": 0,
                    "file_key": archive_key(OPERATOR, ident),
                    "source": source,
                }
                self._stage_create(pipe, ident, OPERATOR, fields, now, queued_at)
                pipe.execute()
            except redis.WatchError:
                return False
        return True

    def mark_unreadable(self, dataset_id: str, reason: str) -> bool:
        """Record that the dataset's files could not be read (see ``mark_rejected``)."""
        return self._move(dataset_id, "rejected", reason=reason, unreadable="1")

    def mark_ready(self, dataset_id: str, image_count: int, size_bytes: int) -> bool:
        """Record a decoded dataset (its manifest already stored) and its archive's size; False
        when it was deleted meanwhile."""
        return self._move(
            dataset_id, "ready", image_count=str(image_count), size_bytes=str(size_bytes)
        )
