"""Checking an uploaded dataset (a zip of JPEG/PNG images) that cannot be trusted, so that it
cannot hurt the worker: the archive checks every upload gets (``featviz.safe_archive``), then
the dataset's own rules, in a child process under memory, CPU-time and disk limits
(``featviz.sandbox``).

The dataset's rules: every file but those archivers add (``__MACOSX``, hidden files) is a
``.png``, ``.jpg`` or ``.jpeg``, at most ``FEATVIZ_DATASET_MAX_IMAGES`` of them, each a whole PNG
or JPEG of at most ``FEATVIZ_DATASET_MAX_IMAGE_PIXELS`` (read from its header before any pixel
is decoded). ``validate_dataset_file(path, limits)`` is the entry point; every refusal names the
limit's setting where a limit is broken.
"""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import BaseModel

from featviz.datasets import IMAGE_SUFFIXES, DatasetImage, Manifest
from featviz.limits import Limit, LimitExceededError, RefusedError, exceeded, setting_limit
from featviz.safe_archive import ArchiveLimits, inspect_zip
from featviz.sandbox import ChildLimits, run_limited, upload_child_limits
from featviz.settings import Settings
from featviz_engine.dataset_images import decode

_STEP = f"{__name__}:check_dataset_file"


class DatasetRejectedError(RefusedError):
    """A dataset that will not be used; the message is the reason users see."""


class DatasetRules(BaseModel, frozen=True):
    """What a dataset's images may be, beyond what any archive may hold."""

    max_images: Limit
    max_pixels: Limit


class DatasetFileLimits(BaseModel, frozen=True):
    """What an uploaded dataset may be, and what checking it may use."""

    archive: ArchiveLimits
    rules: DatasetRules
    child: ChildLimits


def dataset_rules(settings: Settings) -> DatasetRules:
    """The image limits the ``FEATVIZ_DATASET_*`` settings set (a ready dataset's images are
    decoded under the same pixel cap)."""
    return DatasetRules(
        max_images=setting_limit(settings, "dataset_max_images", "count"),
        max_pixels=setting_limit(settings, "dataset_max_image_pixels", "count"),
    )


def dataset_file_limits(settings: Settings) -> DatasetFileLimits:
    """The limits the ``FEATVIZ_DATASET_*`` and the shared ``FEATVIZ_UPLOAD_*`` settings set."""
    return DatasetFileLimits(
        archive=ArchiveLimits(
            max_entries=setting_limit(settings, "dataset_max_entries", "count"),
            max_uncompressed_bytes=setting_limit(
                settings, "dataset_max_uncompressed_bytes", "bytes"
            ),
            max_compression_ratio=setting_limit(settings, "upload_max_compression_ratio", "count"),
        ),
        rules=dataset_rules(settings),
        child=upload_child_limits(settings),
    )


def _ignored(name: str) -> bool:
    """Files archivers add beside the images (macOS resource forks, hidden files)."""
    path = PurePosixPath(name)
    return path.parts[0] == "__MACOSX" or path.name.startswith(".")


def check_dataset_file(path: str, archive: dict[str, Any], rules: dict[str, Any]) -> dict[str, Any]:
    """The sandboxed step: check the archive, then decode every image under the rules.

    Returns
    -------
    dict
        The ``Manifest``, as JSON: every image, sorted by id.

    Raises
    ------
    RefusedError
        With the reason users see.
    """
    checked = inspect_zip(Path(path), ArchiveLimits.model_validate(archive))
    limits = DatasetRules.model_validate(rules)
    names = sorted(entry.name for entry in checked if not _ignored(entry.name))
    if len(names) > limits.max_images.value:
        raise exceeded(limits.max_images, "image count", len(names))
    not_image = next((name for name in names if not name.lower().endswith(IMAGE_SUFFIXES)), None)
    if not_image is not None:
        raise DatasetRejectedError(f"{not_image!r} is not a .png, .jpg or .jpeg file")
    if not names:
        raise DatasetRejectedError("the archive holds no images")
    images = []
    # inspect_zip read every entry through, checking its CRC and declared size: reading one
    # whole now takes no more than the limits allowed.
    with zipfile.ZipFile(path) as opened:
        for name in names:
            try:
                picture = decode(opened.read(name), limits.max_pixels)
            except LimitExceededError as refusal:
                what = f"{name!r}: {refusal.exceeded.what}"
                exceeded_here = refusal.exceeded.model_copy(update={"what": what})
                raise LimitExceededError(exceeded_here) from refusal
            except RefusedError as refusal:
                raise DatasetRejectedError(f"{name!r}: {refusal}") from refusal
            images.append(DatasetImage(id=name, width=picture.width, height=picture.height))
    return Manifest(images=images).model_dump()


def validate_dataset_file(path: Path, limits: DatasetFileLimits) -> Manifest:
    """Check an untrusted dataset in a child process under ``limits``: its manifest.

    Raises
    ------
    RefusedError
        With the reason users see: a limit it broke (naming its setting), or the file at fault.
    featviz.sandbox.ChildFailedError
        When the check failed for a reason that is not the file's.
    """
    with tempfile.TemporaryDirectory(prefix="featviz-dataset-check-") as work:
        found = run_limited(
            _STEP,
            {
                "path": str(path.resolve()),
                "archive": limits.archive.model_dump(),
                "rules": limits.rules.model_dump(),
            },
            limits.child,
            Path(work),
        )
    return Manifest.model_validate(found)
