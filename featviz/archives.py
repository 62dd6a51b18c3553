"""Checks on an uploaded zip archive made before any member is unpacked: what a hostile archive
(a zip bomb, a path-traversal name, a link, too many members) would exploit.

The checks read only the archive's central directory, so they cost nothing however large the
members claim to be; a member is then read with ``read_member``, which stops at the size the
directory declared, so a member lying about its size cannot unpack more.
"""

from __future__ import annotations

import stat
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath

MAX_COMPRESSION_RATIO = 200
"""Unpacked over packed size of a member, at most: images compress little, bombs by 1000x."""


class ArchiveRejectedError(Exception):
    """An archive that will not be unpacked; the message is the reason users see."""


@dataclass(frozen=True)
class ArchiveLimits:
    """What an archive may hold."""

    max_members: int
    max_unpacked_bytes: int


def _unsafe_name(name: str) -> str | None:
    """Why a member's name may not be unpacked as it is, or None."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or name.startswith(("/", "\\")) or ":" in path.parts[0]:
        return "an absolute path"
    if ".." in path.parts:
        return "a '..' component"
    if "\x00" in name:
        return "a NUL character"
    return None


def checked_members(archive: zipfile.ZipFile, limits: ArchiveLimits) -> list[zipfile.ZipInfo]:
    """The archive's files (folders left out), once every member passes the checks.

    Raises
    ------
    ArchiveRejectedError
        Naming the member at fault and why.
    """
    members = archive.infolist()
    files = [member for member in members if not member.is_dir()]
    if len(files) > limits.max_members:
        raise ArchiveRejectedError(
            f"the archive holds {len(files)} files; at most {limits.max_members} are accepted"
        )
    unpacked = 0
    seen: set[str] = set()
    for member in files:
        reason = _unsafe_name(member.filename)
        if reason is not None:
            raise ArchiveRejectedError(f"member {member.filename!r} has {reason} in its name")
        if member.filename in seen:
            raise ArchiveRejectedError(f"member {member.filename!r} appears twice")
        seen.add(member.filename)
        if stat.S_ISLNK(member.external_attr >> 16):
            raise ArchiveRejectedError(f"member {member.filename!r} is a symbolic link")
        if member.flag_bits & 0x1:
            raise ArchiveRejectedError(f"member {member.filename!r} is encrypted")
        ratio = member.file_size / max(member.compress_size, 1)
        if ratio > MAX_COMPRESSION_RATIO:
            raise ArchiveRejectedError(
                f"member {member.filename!r} unpacks {ratio:.0f} times its packed size "
                f"(more than {MAX_COMPRESSION_RATIO}: a zip bomb?)"
            )
        unpacked += member.file_size
        if unpacked > limits.max_unpacked_bytes:
            raise ArchiveRejectedError(
                f"the archive unpacks to more than {limits.max_unpacked_bytes} bytes"
            )
    return files


def read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> bytes:
    """A member's bytes, never more than its declared size (a lying header cannot bomb).

    Raises
    ------
    ArchiveRejectedError
        When the member holds more than it declared, or is damaged.
    """
    try:
        with archive.open(member) as stream:
            data = stream.read(member.file_size + 1)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as error:
        raise ArchiveRejectedError(f"member {member.filename!r} is damaged: {error}") from error
    if len(data) > member.file_size:
        raise ArchiveRejectedError(f"member {member.filename!r} holds more than it declares")
    return data
