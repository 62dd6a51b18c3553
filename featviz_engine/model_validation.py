"""Validating a ``.keras`` file that cannot be trusted, so that it cannot hurt the process that
asks: opening, loading and cataloguing it happen in a child process under memory, CPU-time and
disk limits (``featviz.sandbox``), after checks on the archive that read nothing whole into
memory (``featviz.safe_archive``).

``validate_model_file(path, limits)`` is the entry point: the worker validates each upload with
it, and the command line can check a local file, with the limits ``model_file_limits(settings)``
reads from the ``FEATVIZ_MODEL_*`` and the shared ``FEATVIZ_UPLOAD_*`` settings.
Whatever a file breaks, it is refused with a reason naming the limit's setting.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter

from featviz.fields import MAX_IMAGE_SIZE, MIN_IMAGE_SIZE
from featviz.limits import RefusedError, setting_limit
from featviz.safe_archive import ArchiveLimits, inspect_zip
from featviz.sandbox import ChildLimits, run_limited, upload_child_limits
from featviz.settings import Settings
from featviz_engine.uploaded_catalog import ModelRejectedError, UploadedCatalog

CONFIG_ENTRY = "config.json"
WEIGHTS_ENTRY = "model.weights.h5"
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_STEP = f"{__name__}:check_model_file"
_FILE_NAME = "model.keras"


class ModelFileLimits(BaseModel, frozen=True):
    """What an uploaded file may be, and what checking it may use."""

    archive: ArchiveLimits
    child: ChildLimits


def model_file_limits(settings: Settings) -> ModelFileLimits:
    """The limits the ``FEATVIZ_MODEL_*`` and the shared ``FEATVIZ_UPLOAD_*`` settings set."""
    return ModelFileLimits(
        archive=ArchiveLimits(
            max_entries=setting_limit(settings, "model_max_entries", "count"),
            max_uncompressed_bytes=setting_limit(settings, "model_max_uncompressed_bytes", "bytes"),
            max_compression_ratio=setting_limit(settings, "upload_max_compression_ratio", "count"),
        ),
        child=upload_child_limits(settings),
    )


def check_model_file(path: str, archive: dict[str, Any]) -> dict[str, Any]:
    """The sandboxed step: check the archive, then load the model in safe mode and catalogue it.

    Returns
    -------
    dict
        The ``UploadedCatalog``, as JSON.

    Raises
    ------
    RefusedError
        With the reason users see (``ModelRejectedError`` is one).
    """
    checked = inspect_zip(Path(path), ArchiveLimits.model_validate(archive))
    entries = {entry.name: entry for entry in checked}
    if CONFIG_ENTRY not in entries:
        raise ModelRejectedError(f"not a .keras file: the archive has no {CONFIG_ENTRY}")
    weights = entries.get(WEIGHTS_ENTRY)
    if weights is not None and not weights.head.startswith(HDF5_SIGNATURE):
        raise ModelRejectedError(f"not a .keras file: its {WEIGHTS_ENTRY} is not an HDF5 file")
    # TensorFlow only now: refusing a hostile archive takes a fraction of a second, not an import.
    from featviz_engine.uploaded_models import catalogue_file

    catalog = catalogue_file(Path(path), MIN_IMAGE_SIZE, MAX_IMAGE_SIZE)
    return dataclasses.asdict(catalog)


def validate_model_file(path: Path, limits: ModelFileLimits) -> UploadedCatalog:
    """Check an untrusted ``.keras`` file in a child process under ``limits``: what it offers jobs.

    Raises
    ------
    ModelRejectedError
        With the reason users see: a limit it broke (naming its setting), what Keras refused, or
        why it is no usable image model.
    featviz.sandbox.ChildFailedError
        When the check failed for a reason that is not the file's.
    """
    with tempfile.TemporaryDirectory(prefix="featviz-model-check-") as work:
        folder = Path(work)
        # Keras extracts large weights next to the file it loads: a link puts that in the folder
        # whose growth counts against the disk limit.
        link = folder / _FILE_NAME
        link.symlink_to(path.resolve())
        try:
            found = run_limited(
                _STEP,
                {"path": str(link), "archive": limits.archive.model_dump()},
                limits.child,
                folder,
            )
        except RefusedError as refusal:
            raise ModelRejectedError(str(refusal)) from refusal
    return TypeAdapter(UploadedCatalog).validate_python(found)
