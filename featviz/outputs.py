"""The files a job produces: one layout wherever they are written, and one ``result.json``.

A job's folder is ``--out`` for ``featviz render``, ``{job id}/`` in storage (a local directory
or under the S3 prefix) and the folder ``Job.download`` writes to. Inside it::

    result.json                    what was asked and what came out (``JobResult``)
    sheet.png                      a layer job's final images, or a comparison's grid
    filter_0003/iter_0005.png      each snapshot, and the final image
    filter_0003/sheet.png          the image's snapshots and final image side by side
    filter_0003/progress.gif       the same frames as an animation
    filter_0003/tv_1/iter_0005.png a comparison: one folder per TV weight (tv_0, tv_1, ... in
                                   the order of ``tv_weights``), each holding the files above

An exemplar job's folder holds, per filter, ``filter_0003/exemplars.png`` (the crops of the
receptive field around each of its best images' peak, best first), ``filter_0003/
exemplars_full.png`` (those images whole, the field outlined) and ``result.json``
(``ExemplarJobResult``); ``shards/{shard id}.json`` are its shards' partial top-k lists.

The API gives every file's ``path`` in this folder, so clients never rebuild the layout. The
engine encodes the files (featviz_engine.artifacts); this module only names and lists them.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, Field, computed_field

from featviz.records import ImageEntry, ImageFacts

RESULT_FILE = "result.json"
SHEET_FILE = "sheet.png"
GIF_FILE = "progress.gif"
START_FILE = "start.png"
"""A job that starts from an image: that image as the network saw it (cropped square, resized)."""
EXEMPLAR_CROPS_FILE = "exemplars.png"
EXEMPLAR_FULL_FILE = "exemplars_full.png"


@dataclass(frozen=True)
class ImageFolder:
    """Where the files of one optimised image go, relative to the job's folder."""

    path: str

    @classmethod
    def of(cls, filter_index: int, tv_column: int | None = None) -> ImageFolder:
        """The folder of a filter's image; ``tv_column`` is its TV weight's place in a
        comparison."""
        folder = f"filter_{filter_index:04d}"
        return cls(folder if tv_column is None else f"{folder}/tv_{tv_column}")

    def snapshot(self, iteration: int) -> str:
        return f"{self.path}/iter_{iteration:04d}.png"

    @property
    def sheet(self) -> str:
        return f"{self.path}/{SHEET_FILE}"

    @property
    def gif(self) -> str:
        return f"{self.path}/{GIF_FILE}"

    @property
    def exemplar_crops(self) -> str:
        return f"{self.path}/{EXEMPLAR_CROPS_FILE}"

    @property
    def exemplar_images(self) -> str:
        return f"{self.path}/{EXEMPLAR_FULL_FILE}"


def storage_key(job_id: str, path: str) -> str:
    """The key a file of a job is stored under: its path in the job's folder, under the job."""
    return f"{job_id}/{path}"


def shard_result_key(job_id: str, shard_id: str) -> str:
    """Where an exemplar job's shard leaves its partial top-k (overwritten by a rerun)."""
    return storage_key(job_id, f"shards/{shard_id}.json")


def path_in_job(key: str) -> str:
    """A stored file's path in its job's folder (what ``storage_key`` was given)."""
    _, _, path = key.partition("/")
    return path


class _OfOneFilter(Protocol):
    @property
    def filter(self) -> int: ...

    @property
    def tv_weight(self) -> float: ...


class Scored(_OfOneFilter, Protocol):
    """An image at one iteration with its metrics (the engine's ``Snapshot``)."""

    @property
    def iteration(self) -> int: ...

    @property
    def metrics(self) -> Mapping[str, float]: ...


class Optimised(_OfOneFilter, Protocol):
    """What one optimised image produced (the engine's ``FilterResult``)."""

    @property
    def snapshots(self) -> Sequence[Scored]: ...

    @property
    def final(self) -> Scored | None: ...

    @property
    def dead_at_start(self) -> bool: ...

    @property
    def came_alive_at(self) -> int | None: ...


class ImageFile(ImageFacts):
    """One PNG of a job, a snapshot or a final image, with its metrics."""

    path: str = Field(
        description="where the file is in the job's folder, e.g. filter_0003/iter_0005.png"
    )

    @classmethod
    def of(cls, image: Scored, folder: ImageFolder) -> ImageFile:
        """A snapshot's file."""
        return cls.model_validate(
            {
                "filter": image.filter,
                "tv_weight": image.tv_weight,
                "iteration": image.iteration,
                "path": folder.snapshot(image.iteration),
                **image.metrics,
            }
        )

    @classmethod
    def final_of(cls, result: Optimised, folder: ImageFolder) -> ImageFile:
        """A finished image's final file, with how its start went."""
        assert result.final is not None, "a finished render has its final image"
        final = cls.of(result.final, folder)
        final.dead_at_start, final.came_alive_at = result.dead_at_start, result.came_alive_at
        return final

    @classmethod
    def recorded(cls, entry: ImageEntry) -> ImageFile:
        """An image as the job store records it (by storage key)."""
        return cls(path=path_in_job(entry.key), **entry.model_dump(exclude={"key"}))

    def entry(self, job_id: str) -> ImageEntry:
        """The record of this image of the job ``job_id`` (the job the user sees)."""
        return ImageEntry(key=storage_key(job_id, self.path), **self.model_dump(exclude={"path"}))


class ImageResult(BaseModel):
    """One optimised image in ``result.json``."""

    filter: int
    tv_weight: float
    folder: str = Field(description="the image's folder in the job's folder")
    snapshots: list[ImageFile] | None = Field(
        default=None,
        description="absent for a layer job, whose snapshots its packs record; their files "
        "are in the folder",
    )
    final: ImageFile

    @classmethod
    def of(cls, result: Optimised, folder: ImageFolder) -> ImageResult:
        return cls(
            filter=result.filter,
            tv_weight=result.tv_weight,
            folder=folder.path,
            snapshots=[ImageFile.of(snapshot, folder) for snapshot in result.snapshots],
            final=ImageFile.final_of(result, folder),
        )

    @classmethod
    def final_only(cls, final: ImageFile) -> ImageResult:
        return cls(
            filter=final.filter,
            tv_weight=final.tv_weight,
            folder=posixpath.dirname(final.path),
            final=final,
        )


class ResultFile(BaseModel):
    """A ``result.json``."""

    def encode(self) -> bytes:
        return (self.model_dump_json(indent=2, exclude_none=True) + "\n").encode()


class JobResult(ResultFile):
    """``result.json``: the spec as run, every image with its metrics and files, and, where
    known, the layer job's counts and the run's timings."""

    job: str | None = Field(default=None, description="the job's id; absent for featviz render")
    spec: dict[str, Any]
    images: list[ImageResult]
    counts: dict[str, int] | None = Field(default=None, description="a layer job's filters")
    timings: dict[str, float] | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def start_file(self) -> str | None:
        """``start.png`` when the job started from an image (the spec's ``start_image``)."""
        return START_FILE if self.spec.get("start_image") else None


class ExemplarImage(BaseModel):
    """One of a filter's best images in an exemplar job's ``result.json``."""

    image: str = Field(description="the image's id: its name in the dataset's archive")
    index: int = Field(description="its place in the dataset, images sorted by id")
    score: float = Field(description="the filter's peak (spatial maximum) activation on it")
    row: int = Field(description="the peak's row in the layer's activation map")
    column: int
    box: tuple[int, int, int, int] = Field(
        description="top, left, bottom, right of the receptive field around the peak, in the "
        "image as the network saw it (cropped square, resized to image_size)"
    )


class FilterExemplars(BaseModel):
    filter: int
    crops: str = Field(description="path of the strip of crops")
    images: str = Field(description="path of the strip of whole images, the field outlined")
    exemplars: list[ExemplarImage] = Field(description="best first; ties by image id")


class ReceptiveFieldFacts(BaseModel):
    size: int = Field(description="side of the square a unit sees, pixels")
    stride: float = Field(description="input pixels per map cell")
    offset: float = Field(description="centre of cell 0's field, pixels")


class ExemplarJobResult(ResultFile):
    """An exemplar job's ``result.json``."""

    job: str
    spec: dict[str, Any]
    receptive_field: ReceptiveFieldFacts
    filters: list[FilterExemplars]
    counts: dict[str, int] | None = Field(default=None, description="images by outcome")
