"""Steps for ``featviz.sandbox`` tests that do, on purpose, what a hostile input makes a step
do: allocate without end, spin, write without end, hang, crash. Each runs only in a sandbox's
child process, under its limits."""

from __future__ import annotations

import os
import signal
import tempfile
import time
from pathlib import Path

from featviz.limits import RefusedError

CHUNK = 256 * 1024


def echo(**values: object) -> dict[str, object]:
    return values


def oom_score_adj() -> int:
    return int(Path("/proc/self/oom_score_adj").read_text())


def refuse(reason: str) -> None:
    raise RefusedError(reason)


def fail() -> None:
    raise RuntimeError("a bug in the step, not the input")


def allocate(megabytes: int) -> int:
    """Hold ``megabytes`` of memory, touched page by page, as a huge layer's weights would."""
    held = bytearray(megabytes * 1024**2)
    return len(held)


def spin() -> None:
    while True:
        pass


def write_one_file(path: str, megabytes: int) -> None:
    """One large file, outside the sandbox's folder: only the per-file limit sees it."""
    with Path(path).open("wb") as file:
        for _ in range(megabytes * 1024**2 // CHUNK):
            file.write(bytes(CHUNK))


def write_many_files() -> None:
    """Small files without end: none reaches a per-file limit; together they fill the disk."""
    for index in range(1_000_000):
        Path(tempfile.gettempdir(), f"part-{index}").write_bytes(bytes(CHUNK))
        time.sleep(0.005)


def hang() -> None:
    time.sleep(3600)


def die(name: str) -> None:
    os.kill(os.getpid(), signal.Signals[name])
