"""The compiled CPU kernel for Chambolle TV (``tv_kernel.cc``): built once per machine, loaded
as a TensorFlow op library.

On a CPU, XLA turns each Chambolle iteration of the graph version into about a dozen full-size
passes over the batch, and the graph version is no faster than scikit-image; the kernel makes
two passes per iteration and spreads the images over TensorFlow's CPU threads. It is compiled
with the C++ compiler (``$CXX``, else ``g++``) against the installed TensorFlow's headers, into
``$XDG_CACHE_HOME/featviz`` (default ``~/.cache/featviz``) under a name that changes with the
source, the flags and the TensorFlow version, so a stale build is never loaded. ``make install``
builds it (``python -m featviz_engine.tv_native``); where it cannot be built (no compiler, as in
the GPU worker's image, which uses the graph version anyway) ``load`` answers None.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import ModuleType
from typing import cast

import tensorflow as tf

SOURCE = Path(__file__).with_name("tv_kernel.cc")
FLAGS = ("-std=c++17", "-shared", "-fPIC", "-O3", "-fno-math-errno", "-ffp-contract=off", "-w")
"""``-ffp-contract=off``: no fused multiply-adds, so the kernel rounds as the graph version
does; ``-fno-math-errno`` only lets ``sqrt`` vectorise."""

log = logging.getLogger(__name__)


class KernelUnavailableError(RuntimeError):
    """The kernel cannot be built here (no compiler, or the build failed)."""


def cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "featviz"


def library_path() -> Path:
    """Where this source, these flags and this TensorFlow's build of the kernel lives."""
    key = hashlib.sha256(
        b"\0".join([SOURCE.read_bytes(), " ".join(FLAGS).encode(), tf.__version__.encode()])
    ).hexdigest()[:16]
    return cache_dir() / f"tv_kernel-{key}.so"


def build() -> Path:
    """Compile the kernel unless this machine already has it; returns the library's path.

    Concurrent builders (a worker pool's first jobs) wait on one lock, and the library appears
    under its final name only when complete.
    """
    target = library_path()
    if target.is_file():
        return target
    compiler = shutil.which(os.environ.get("CXX", "g++"))
    if compiler is None:
        raise KernelUnavailableError("no C++ compiler ($CXX or g++) to build the TV kernel")
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.is_file():
            return target
        with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
            partial = Path(scratch) / target.name
            command = [
                compiler,
                *FLAGS,
                str(SOURCE),
                "-o",
                str(partial),
                *tf.sysconfig.get_compile_flags(),
                *tf.sysconfig.get_link_flags(),
            ]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise KernelUnavailableError(
                    f"building the TV kernel failed:\n{done.stderr[-2000:]}"
                )
            os.replace(partial, target)
    return target


@functools.cache
def load() -> ModuleType | None:
    """The kernel's op library (building it first if needed), or None where it cannot be built."""
    try:
        return cast(ModuleType, tf.load_op_library(str(build())))
    except (KernelUnavailableError, OSError, tf.errors.NotFoundError) as error:
        log.warning("TV denoising uses the graph version: %s", error)
        return None


if __name__ == "__main__":
    print(build())
