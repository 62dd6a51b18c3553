"""The service on this machine for the benchmarks: a redis-server, storage in a temporary
directory, worker processes and, when asked, the API over HTTP (``featviz api`` under uvicorn)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from featviz.settings import hash_api_key
from featviz_cli.local_stack import free_port, start_redis

API_KEYS = [f"bench-key-{n}" for n in range(4)]


@dataclass
class LocalService:
    environment: dict[str, str]
    redis_url: str
    api_url: str | None
    workers: list[subprocess.Popen[bytes]]


def _wait_ready(url: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the API at {url} did not become ready")


@contextmanager
def local_service(workers: int = 1, api: bool = True) -> Iterator[LocalService]:
    with tempfile.TemporaryDirectory(prefix="featviz-bench-") as folder:
        redis_port = free_port()
        redis = start_redis(redis_port, Path(folder) / "redis", append_only=True)
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
        environment = {
            "FEATVIZ_REDIS_URL": redis_url,
            "FEATVIZ_STORAGE_URL": str(Path(folder) / "storage"),
            "FEATVIZ_API_KEY_HASHES": ",".join(hash_api_key(key) for key in API_KEYS),
            "FEATVIZ_SIGNING_SECRET": "a-benchmark-signing-secret",
            "TF_CPP_MIN_LOG_LEVEL": "2",
        }
        child_env = os.environ | environment
        featviz = [sys.executable, "-m", "featviz_cli"]
        # Their logs would bury the table the benchmark prints.
        quiet = {"env": child_env, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        processes = [
            subprocess.Popen([*featviz, "worker", "--loglevel", "WARNING"], **quiet)
            for _ in range(workers)
        ]
        api_url = None
        try:
            if api:
                port = free_port()
                processes.append(subprocess.Popen([*featviz, "api", "--port", str(port)], **quiet))
                api_url = f"http://127.0.0.1:{port}"
                _wait_ready(api_url)
            yield LocalService(environment, redis_url, api_url, processes[:workers])
        finally:
            for process in [*processes, redis]:
                process.terminate()
            for process in [*processes, redis]:
                process.wait(timeout=30)
