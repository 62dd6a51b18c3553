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
"""

from __future__ import annotations

import re

from pydantic import BaseModel, Field

from featviz.store import new_job_id
from featviz.upload_records import HashFields, UploadRecord, UploadRecords

DATASET_ID_PREFIX = "dst_"
_DATASET_ID = re.compile(rf"^{DATASET_ID_PREFIX}[0-9a-f]{{28}}$")
DATASET_FILE_SUFFIX = ".zip"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
"""Members with other suffixes are refused, naming the first."""


def new_dataset_id() -> str:
    """An id that sorts by creation time."""
    return f"{DATASET_ID_PREFIX}{new_job_id()}"


def is_dataset_id(name: str) -> bool:
    return _DATASET_ID.match(name) is not None


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

    @property
    def manifest_key(self) -> str:
        return manifest_key(self.owner, self.id)


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

    def mark_ready(self, dataset_id: str, image_count: int) -> bool:
        """Record a decoded dataset (its manifest already stored); False when it was deleted
        meanwhile."""
        return self._move(dataset_id, "ready", image_count=str(image_count))
