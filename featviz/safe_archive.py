"""Looking inside an untrusted zip archive (a ``.keras`` model, a data set) without trusting it.

The checks go from the cheapest and least trusting to the dearest:

1. the end record's entry count, read before ``zipfile`` builds an object per entry;
2. from the central directory, each entry's name (nothing that could land outside a folder it
   were extracted to), kind (no links, no encryption, stored or deflated only), and declared
   sizes: their total, and each large entry's compression ratio;
3. every entry read through once in chunks of ``CHUNK_BYTES``, which checks its CRC and that it
   holds no more than it declares (``zipfile`` stops at the declared size, and a lie then fails
   the CRC), and its first bytes for an archive inside the archive.

Nothing is extracted and no entry is ever held in memory whole, so the work is bounded by the
limits. Run it where a limit on memory and CPU time backs it up (``featviz.sandbox``): the
central directory of a file that lies about its entry count is still parsed whole by ``zipfile``.
"""

from __future__ import annotations

import re
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from pydantic import BaseModel

from featviz.limits import Limit, RefusedError, exceeded

CHUNK_BYTES = 1024**2
RATIO_FLOOR_BYTES = 1024**2
"""Entries smaller than this may compress as well as they like: they cannot blow memory up,
and small text (a model's config.json) compresses well."""
HEAD_BYTES = 264
"""How much of each entry ``ArchiveEntry.head`` keeps: enough for tar's magic at offset 257."""

_END_RECORD = b"PK\x05\x06"
_END_RECORD_SIZE = 22
_MAX_COMMENT = 0xFFFF
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_END_RECORD = b"PK\x06\x06"
_ZIP64_LOCATOR_SIZE = 20
_SYMLINK = 0o120000
_FILE_TYPE = 0o170000
_NAME_SHOWN = 80


class ArchiveLimits(BaseModel, frozen=True):
    """What an archive may hold."""

    max_entries: Limit
    max_uncompressed_bytes: Limit
    max_compression_ratio: Limit


@dataclass(frozen=True)
class ArchiveEntry:
    """A file in a checked archive."""

    name: str
    size: int
    head: bytes
    """Its first ``HEAD_BYTES`` bytes (all of it when shorter)."""


def _is_bzip2(head: bytes) -> bool:
    return head[:3] == b"BZh" and head[4:10] == b"1AY&SY"


_NESTED: dict[str, Callable[[bytes], bool]] = {
    "zip": lambda head: head[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"),
    "gzip": lambda head: head[:2] == b"\x1f\x8b",
    "bzip2": _is_bzip2,
    "xz": lambda head: head[:6] == b"\xfd7zXZ\x00",
    "zstd": lambda head: head[:4] == b"\x28\xb5\x2f\xfd",
    "7z": lambda head: head[:6] == b"7z\xbc\xaf\x27\x1c",
    "rar": lambda head: head[:6] == b"Rar!\x1a\x07",
    "tar": lambda head: head[257:262] == b"ustar",
}
"""Archive formats by their magic bytes: an entry starting so is an archive inside the archive,
whose own sizes nobody has checked."""


def nested_format(head: bytes) -> str | None:
    """The archive format ``head`` (a file's first bytes) starts, if any."""
    return next((name for name, starts in _NESTED.items() if starts(head)), None)


def _shown(name: str) -> str:
    return repr(name if len(name) <= _NAME_SHOWN else name[:_NAME_SHOWN] + "...")


def _unsafe_name(name: str) -> str | None:
    """Why an entry name could write outside the folder it were extracted to, if it could."""
    if "\0" in name:
        return "holds a NUL character"
    if "\\" in name:
        return "holds a backslash, a folder separator on Windows"
    if name.startswith("/") or re.match(r"[A-Za-z]:", name):
        return "is an absolute path"
    if ".." in PurePosixPath(name).parts:
        return "climbs out of the archive with '..'"
    return None


def _declared_entries(file: BinaryIO) -> int:
    """The entry count in the archive's end record (zip64's when it has one).

    Raises
    ------
    RefusedError
        When there is no end record: not a zip archive, or one cut short.
    """
    size = file.seek(0, 2)
    tail_size = min(size, _END_RECORD_SIZE + _MAX_COMMENT)
    file.seek(size - tail_size)
    tail = file.read(tail_size)
    at = tail.rfind(_END_RECORD)
    if at < 0 or at + _END_RECORD_SIZE > len(tail):
        raise RefusedError("not a zip archive (truncated or corrupt?)")
    (entries,) = struct.unpack_from("<H", tail, at + 10)
    locator = at - _ZIP64_LOCATOR_SIZE
    if entries == 0xFFFF and locator >= 0 and tail[locator : locator + 4] == _ZIP64_LOCATOR:
        (record_at,) = struct.unpack_from("<Q", tail, locator + 8)
        file.seek(record_at)
        record = file.read(56)
        if record[:4] == _ZIP64_END_RECORD and len(record) == 56:
            (entries,) = struct.unpack_from("<Q", record, 32)
    return int(entries)


def _check_entry(info: zipfile.ZipInfo) -> None:
    """Refuse an entry for its name or kind, from the central directory."""
    name = _shown(info.filename)
    why = _unsafe_name(info.filename)
    if why is not None:
        raise RefusedError(f"entry name {name} {why}")
    if (info.external_attr >> 16) & _FILE_TYPE == _SYMLINK:
        raise RefusedError(f"entry {name} is a symbolic link")
    if info.flag_bits & 0x1:
        raise RefusedError(f"entry {name} is encrypted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise RefusedError(
            f"entry {name} uses compression method {info.compress_type}; "
            "only stored and deflated entries are read"
        )


def _check_ratio(info: zipfile.ZipInfo, limit: Limit) -> None:
    """Refuse a large entry that declares far more than it stores: a zip bomb."""
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > RATIO_FLOOR_BYTES and ratio > limit.value:
        raise exceeded(limit, f"entry {_shown(info.filename)}: compression ratio", ratio)


def _read_through(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """Read an entry once, a chunk at a time, checking its CRC; returns its first bytes."""
    try:
        with archive.open(info) as entry:
            head = entry.read(HEAD_BYTES)
            while entry.read(CHUNK_BYTES):
                pass
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as error:
        raise RefusedError(
            f"the archive is corrupt: entry {_shown(info.filename)}: {error}"
        ) from error
    return head


def inspect_zip(path: Path, limits: ArchiveLimits) -> list[ArchiveEntry]:
    """Check an untrusted zip archive against ``limits`` (see the module's docstring).

    Returns
    -------
    list of ArchiveEntry
        Its files (not folders), in archive order.

    Raises
    ------
    LimitExceededError
        When it breaks a limit; the message names the limit's setting.
    RefusedError
        When it is no whole zip archive, or holds what featviz never opens.
    """
    with path.open("rb") as file:
        declared = _declared_entries(file)
        if declared > limits.max_entries.value:
            raise exceeded(limits.max_entries, "entry count", declared)
        try:
            archive = zipfile.ZipFile(file)
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, struct.error) as error:
            raise RefusedError(f"the archive is corrupt: {error}") from error
        with archive:
            infos = archive.infolist()
            if len(infos) > limits.max_entries.value:
                raise exceeded(limits.max_entries, "entry count", len(infos))
            names = [info.filename for info in infos]
            if len(set(names)) != len(names):
                twice = next(name for name in names if names.count(name) > 1)
                raise RefusedError(f"entry {_shown(twice)} appears twice")
            for info in infos:
                _check_entry(info)
            total = sum(info.file_size for info in infos)
            if total > limits.max_uncompressed_bytes.value:
                raise exceeded(limits.max_uncompressed_bytes, "uncompressed size", total)
            for info in infos:
                _check_ratio(info, limits.max_compression_ratio)
            entries = []
            for info in infos:
                if info.is_dir():
                    continue
                head = _read_through(archive, info)
                found = nested_format(head)
                if found is not None:
                    raise RefusedError(
                        f"entry {_shown(info.filename)} is itself an archive ({found}); "
                        "archives inside archives are not opened"
                    )
                entries.append(ArchiveEntry(info.filename, info.file_size, head))
    return entries
