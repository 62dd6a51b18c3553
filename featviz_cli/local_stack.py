"""The service's parts as processes on this machine, for ``featviz up``, the tests and the
benchmarks: a private ``redis-server``, a worker process, and an ASGI app served over real HTTP.

Everything listens on loopback only, on free ports, and is stopped when its ``with`` block ends.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Literal, TypeVar

import redis
import uvicorn
from starlette.types import ASGIApp

from featviz.settings import Settings, hash_api_key

REDIS_START_TIMEOUT_S = 10.0
WORKER_STOP_TIMEOUT_S = 30

T = TypeVar("T")
AppendFsync = Literal["always", "everysec", "no"]


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


class RedisServerError(RuntimeError):
    """``redis-server`` is not installed, or did not start."""


def start_redis(
    port: int, data_dir: Path, append_only: bool = False, fsync: AppendFsync = "everysec"
) -> subprocess.Popen[bytes]:
    """Start the ``redis-server`` found on ``PATH`` on loopback and return once it answers.

    Parameters
    ----------
    append_only
        Persist every write to an append-only file in ``data_dir``, so that a restart keeps
        the data; otherwise nothing is saved.
    fsync
        When the append-only file is flushed to disk (Redis's ``appendfsync``): ``everysec``
        (Redis's default) loses nothing when the process dies, up to a second of writes when
        the machine does; ``always`` loses nothing either way, at one fsync per write batch.

    Raises
    ------
    RedisServerError
        When there is no ``redis-server``, or it exits or stays silent instead of answering.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        raise RedisServerError("redis-server not found on PATH; install it (make system-deps)")
    data_dir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data_dir.resolve()),
         "--save", "", "--appendonly", "yes" if append_only else "no", "--appendfsync", fsync,
         "--maxmemory-policy", "noeviction"],
        stdout=subprocess.DEVNULL,
        # Its own process group: a terminal's Ctrl-C reaches only whoever started it, which
        # stops it last, after the worker has handed its job back (featviz up).
        process_group=0,
    )  # fmt: skip
    client = redis.Redis(port=port)

    def answers() -> bool | None:
        if process.poll() is not None:
            raise RedisServerError(f"redis-server exited with {process.returncode}")
        try:
            return bool(client.ping()) or None
        except redis.ConnectionError:
            return None

    try:
        eventually(answers, REDIS_START_TIMEOUT_S, "redis-server")
    except AssertionError as error:
        process.kill()
        process.wait()
        raise RedisServerError(f"redis-server did not answer: {error}") from error
    finally:
        client.close()
    return process


@contextmanager
def redis_server(data_dir: Path) -> Iterator[str]:
    """A private redis-server on a free port, without persistence; yields its URL."""
    port = free_port()
    process = start_redis(port, data_dir)
    try:
        yield f"redis://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def stack_environment(
    redis_url: str, queue: str, storage_url: str, api_keys: list[str], **extra: str
) -> dict[str, str]:
    """The FEATVIZ_* settings of a local stack; the API and the worker both read them."""
    return {
        "FEATVIZ_REDIS_URL": redis_url,
        "FEATVIZ_QUEUE": queue,
        "FEATVIZ_STORAGE_URL": storage_url,
        "FEATVIZ_API_KEY_HASHES": ",".join(hash_api_key(key) for key in api_keys),
        "FEATVIZ_SIGNING_SECRET": "a-local-stack-signing-secret",
        **extra,
    }


def settings_from(environment: Mapping[str, str]) -> Settings:
    """The settings the API and the worker read from ``environment``."""
    fields = {name.removeprefix("FEATVIZ_").lower(): value for name, value in environment.items()}
    return Settings.model_validate(fields)


@contextmanager
def worker_process(
    environment: Mapping[str, str], log_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """``featviz worker`` as a child process with ``environment`` added to this one's."""
    child_env = os.environ | dict(environment) | {"TF_CPP_MIN_LOG_LEVEL": "2"}
    with log_path.open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "featviz_cli", "worker", "--loglevel", "INFO"],
            env=child_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield worker
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=WORKER_STOP_TIMEOUT_S)
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
