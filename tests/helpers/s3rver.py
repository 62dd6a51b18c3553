"""s3rver (from the npm registry) as a process on a free port: an S3-compatible server that,
unlike moto, refuses an expired presigned URL.

It is installed once into ``.cache/s3rver`` (git-ignored) with the machine's ``npm``. It does
not check SigV4 signatures nor bucket permissions (any well-formed signature passes, and an
unsigned GET is served), so those stay with moto's tests.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from featviz_cli.local_stack import eventually, free_port
from tests.helpers.paths import CACHE_DIR

VERSION = "3.7.1"
INSTALL_DIR = CACHE_DIR / "s3rver"
SCRIPT = INSTALL_DIR / "node_modules" / "s3rver" / "bin" / "s3rver.js"
# s3rver's built-in account; it accepts no other.
CREDENTIALS = {"aws_access_key_id": "S3RVER", "aws_secret_access_key": "S3RVER"}


def install() -> Path:
    """The server's script, installed first if need be."""
    marker = INSTALL_DIR / f".installed-{VERSION}"
    if not marker.exists():
        npm = shutil.which("npm")
        assert npm is not None, "npm is needed to install s3rver (make system-deps installs it)"
        subprocess.run(
            [npm, "install", "--prefix", str(INSTALL_DIR), "--no-audit", "--no-fund",
             "--no-save", f"s3rver@{VERSION}"],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        marker.touch()
    return SCRIPT


@contextmanager
def s3rver(data_dir: Path) -> Iterator[str]:
    """A running s3rver keeping its objects in ``data_dir``; yields its endpoint URL."""
    node = shutil.which("node")
    assert node is not None, "node is needed to run s3rver"
    port = free_port()
    process = subprocess.Popen(
        [node, str(install()), "--directory", str(data_dir), "--address", "127.0.0.1",
         "--port", str(port), "--silent"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"

    def answers() -> bool | None:
        assert process.poll() is None, f"s3rver exited with {process.returncode}"
        try:
            httpx.get(endpoint, timeout=1)
        except httpx.TransportError:
            return None
        return True

    try:
        eventually(answers, 20, "s3rver")
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)
