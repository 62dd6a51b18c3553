"""A dataset to upload as one zip: the zip itself, or a folder's images zipped on the way."""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


@contextmanager
def zipped(path: Path) -> Iterator[tuple[str, BinaryIO]]:
    """``(file name, open file)`` of a zip to upload.

    A folder's PNG and JPEG files (in its subfolders too, named by their path in it) are
    stored, not compressed (they are compressed already), in a temporary file: never whole in
    memory.
    """
    if not path.is_dir():
        with path.open("rb") as file:
            yield path.name, file
        return
    images = sorted(
        p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )
    if not images:
        raise ValueError(f"{path} holds no .png or .jpg files")
    with tempfile.TemporaryFile() as file:
        with zipfile.ZipFile(file, "w", zipfile.ZIP_STORED) as archive:
            for image in images:
                archive.write(image, image.relative_to(path).as_posix())
        file.seek(0)
        yield f"{path.name}.zip", file  # type: ignore[misc]
