"""Decoding an uploaded dataset's images, run as a child process under resource limits.

``python -m worker.dataset_check ARCHIVE`` reads the limits (``Limits``, JSON) on stdin, checks
the archive (featviz.archives), decodes every image with Pillow and prints the ``Verdict`` as
JSON: the manifest, or the reason the dataset is refused. The worker runs it with a cap on its
address space and CPU time (``worker.datasets``), so an image that would take all the memory or
time of the worker to decode kills only this process. It imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path, PurePosixPath

from pydantic import BaseModel

from featviz.archives import ArchiveLimits, ArchiveRejectedError, checked_members, read_member
from featviz.datasets import IMAGE_SUFFIXES, DatasetImage, Manifest
from featviz_engine.dataset_images import ImageRejectedError, decode


class Limits(BaseModel):
    max_images: int
    max_unpacked_bytes: int
    max_pixels: int


class Verdict(BaseModel):
    """What the check found: a manifest, or why the dataset is refused."""

    manifest: Manifest | None = None
    reason: str | None = None


def _ignored(name: str) -> bool:
    """Files archivers add beside the images (macOS resource forks, hidden files)."""
    path = PurePosixPath(name)
    return path.parts[0] == "__MACOSX" or path.name.startswith(".")


def check(archive_path: Path, limits: Limits) -> Verdict:
    """The manifest of an archive whose every member is a PNG or JPEG within the limits."""
    try:
        with zipfile.ZipFile(archive_path) as archive:
            archive_limits = ArchiveLimits(limits.max_images, limits.max_unpacked_bytes)
            members = [
                m for m in checked_members(archive, archive_limits) if not _ignored(m.filename)
            ]
            images = []
            for member in sorted(members, key=lambda m: m.filename):
                if not member.filename.lower().endswith(IMAGE_SUFFIXES):
                    return Verdict(reason=f"{member.filename!r} is not a .png or .jpg file")
                try:
                    picture = decode(read_member(archive, member), limits.max_pixels)
                except ImageRejectedError as error:
                    return Verdict(reason=f"{member.filename!r}: {error}")
                images.append(
                    DatasetImage(id=member.filename, width=picture.width, height=picture.height)
                )
    except ArchiveRejectedError as error:
        return Verdict(reason=str(error))
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        return Verdict(reason=f"not a whole zip archive: {error}")
    if not images:
        return Verdict(reason="the archive holds no images")
    return Verdict(manifest=Manifest(images=images))


def main() -> None:
    limits = Limits.model_validate_json(sys.stdin.read())
    print(check(Path(sys.argv[1]), limits).model_dump_json())


if __name__ == "__main__":
    main()
