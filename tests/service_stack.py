"""Real service parts for the tests: a redis-server, a Celery worker process, the API app.

The fixtures in ``conftest.py`` start them once per session; this module holds how.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import redis
import uvicorn
from fastapi.testclient import TestClient
from starlette.types import ASGIApp

from api.main import create_app
from featviz.settings import Settings, hash_api_key
from featviz.store import JobStore

REDIS_SERVER = "/usr/bin/redis-server"
API_KEY = "test-key-alice"
OTHER_API_KEY = "test-key-bob"
TERMINAL = ("succeeded", "failed", "canceled")
S3_BUCKET = "featviz-test"
S3_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def eventually(check: Callable[[], T | None], timeout_s: float, what: str) -> T:
    """Poll ``check`` until it returns something other than None."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value is not None:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


@contextmanager
def redis_server(data_dir: Path) -> Iterator[str]:
    """A private redis-server on a free port; yields its URL."""
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data_dir),
         "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    client = redis.Redis(port=port)
    try:

        def answers() -> bool | None:
            try:
                return bool(client.ping()) or None
            except redis.ConnectionError:
                return None

        eventually(answers, 10, "redis-server")
        yield f"redis://127.0.0.1:{port}"
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=10)


def service_environment(
    redis_url: str, queue: str, storage_url: str, **extra: str
) -> dict[str, str]:
    """The FEATVIZ_* settings of one test stack; both API and worker read them."""
    return {
        "FEATVIZ_REDIS_URL": redis_url,
        "FEATVIZ_QUEUE": queue,
        "FEATVIZ_STORAGE_URL": storage_url,
        "FEATVIZ_API_KEY_HASHES": f"{hash_api_key(API_KEY)},{hash_api_key(OTHER_API_KEY)}",
        "FEATVIZ_SIGNING_SECRET": "a-test-signing-secret",
        "FEATVIZ_MAX_BODY_BYTES": "16384",
        # The tests poll in tight loops; the rate limit has tests of its own.
        "FEATVIZ_RATE_LIMIT_PER_S": "10000",
        "FEATVIZ_RATE_LIMIT_BURST": "10000",
        **extra,
    }


def settings_from(environment: dict[str, str]) -> Settings:
    fields = {name.removeprefix("FEATVIZ_").lower(): value for name, value in environment.items()}
    return Settings.model_validate(fields)


@dataclass
class Stack:
    """One running service: the API (in process), its store and a worker process."""

    settings: Settings
    client: TestClient
    store: JobStore
    worker: subprocess.Popen[bytes]

    def auth(self, key: str = API_KEY) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    def get(self, path: str, key: str = API_KEY, **kwargs: Any) -> Any:
        return self.client.get(path, headers=self.auth(key), **kwargs)

    def post(self, path: str, key: str = API_KEY, **kwargs: Any) -> Any:
        headers = self.auth(key) | kwargs.pop("headers", {})
        return self.client.post(path, headers=headers, **kwargs)

    def submit(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.post(path, json=body)
        assert response.status_code == 202, response.text
        job: dict[str, Any] = response.json()
        return job

    def wait(
        self, job_id: str, statuses: tuple[str, ...] = TERMINAL, timeout_s: float = 120
    ) -> Any:
        """The job once its status is one of ``statuses``."""

        def reached() -> Any:
            assert self.worker.poll() is None, "the worker process died"
            job = self.get(f"/v1/jobs/{job_id}").json()
            return job if job["status"] in statuses else None

        return eventually(reached, timeout_s, f"job {job_id} to reach {statuses}")

    def queue_length(self) -> int:
        return int(self.store.redis.llen(self.settings.queue))


@contextmanager
def running_stack(environment: dict[str, str], log_path: Path) -> Iterator[Stack]:
    """Start a worker process and the API for ``environment``; stop them afterwards."""
    settings = settings_from(environment)
    child_env = os.environ | environment | {"TF_CPP_MIN_LOG_LEVEL": "2"}
    with log_path.open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "featviz", "worker", "--loglevel", "INFO"],
            env=child_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            with TestClient(create_app(settings)) as client:
                yield Stack(settings, client, JobStore.from_url(settings.redis_url), worker)
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()


@contextmanager
def serving(app: ASGIApp) -> Iterator[str]:
    """Serve ``app`` over real HTTP (uvicorn in a thread, on a free port); yields its URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    try:
        eventually(lambda: server.started or None, 10, f"uvicorn on port {port}")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
