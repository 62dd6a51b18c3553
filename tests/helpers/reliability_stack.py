"""A service stack whose parts the reliability tests break on purpose: a redis-server with
append-only persistence that can be stopped and started again on the same port, an S3 server
(moto) that can go down and come back with its data, and a pool of worker processes that are
started again when they die (as ``featviz up`` or a process manager would)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import redis
from fastapi.testclient import TestClient

from api.main import create_app
from featviz.queue import create_celery
from featviz.settings import Settings
from featviz.store import JobStore
from featviz_cli.local_stack import AppendFsync, start_redis
from tests.helpers.service_stack import (
    API_KEY,
    S3_CREDENTIALS,
    TERMINAL,
    eventually,
    free_port,
    service_environment,
    settings_from,
)

# A job of a second or less, and one that runs long enough to be interrupted.
SHORT_JOB = {
    "weights": "random",
    "layer": "conv3_block1_out",
    "image_size": 64,
    "iterations": 12,
    "snapshots": [5],
    "tv_start": 4,
}
LONG_JOB = {**SHORT_JOB, "iterations": 100, "snapshots": [2, 60]}

RELIABILITY_BUCKET = "featviz-reliability"
STORAGE_PREFIX = "jobs"
WORKERS = 2

# Short intervals so that recovery takes seconds: a worker that dies loses its job's lease 4 s
# after its last heartbeat, and a reaper notices within half a second.
TIMINGS = {
    "FEATVIZ_HEARTBEAT_INTERVAL_S": "1",
    "FEATVIZ_LEASE_S": "4",
    "FEATVIZ_REAPER_INTERVAL_S": "0.5",
    "FEATVIZ_MAX_ATTEMPTS": "3",
    "FEATVIZ_STORAGE_ATTEMPTS": "5",
    "FEATVIZ_STORAGE_BACKOFF_S": "0.25",
    "FEATVIZ_PROGRESS_INTERVAL_S": "0.2",
    "FEATVIZ_OUTBOX_GRACE_S": "2",
}


class PersistentRedis:
    """A redis-server with AOF on a fixed port and directory, so a restart keeps its data."""

    def __init__(self, data_dir: Path, fsync: AppendFsync = "everysec") -> None:
        self.data_dir = data_dir
        self.fsync: AppendFsync = fsync
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = start_redis(self.port, self.data_dir, append_only=True, fsync=self.fsync)

    def stop(self) -> None:
        """Stop as an operator would (SIGTERM: the AOF is flushed)."""
        assert self.process is not None
        self.process.terminate()
        self.process.wait(timeout=10)

    def crash(self) -> None:
        """Kill it (SIGKILL): only what reached the AOF survives."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)


class StoppableS3:
    """moto's S3 server on a fixed port; its data outlives a stop (moto keeps it in process)."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._server_type = ThreadedMotoServer
        self._server: Any = None

    def start(self) -> None:
        self._server = self._server_type(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()

    def stop(self) -> None:
        self._server.stop()

    def environment(self) -> dict[str, str]:
        """The ``FEATVIZ_S3_*`` settings that point the service here."""
        return {
            "FEATVIZ_S3_ENDPOINT_URL": self.endpoint,
            "FEATVIZ_S3_REGION": "us-east-1",
            "FEATVIZ_S3_ACCESS_KEY_ID": S3_CREDENTIALS["aws_access_key_id"],
            "FEATVIZ_S3_SECRET_ACCESS_KEY": S3_CREDENTIALS["aws_secret_access_key"],
        }

    def client(self) -> Any:
        return boto3.client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1", **S3_CREDENTIALS
        )

    def keys(self, prefix: str) -> list[str]:
        """Every object key under ``prefix``, one entry per object."""
        pages = (
            self.client()
            .get_paginator("list_objects_v2")
            .paginate(Bucket=RELIABILITY_BUCKET, Prefix=prefix)
        )
        return [item["Key"] for page in pages for item in page.get("Contents", [])]


@dataclass
class WorkerPool:
    """Worker processes (``tests.helpers.poison_worker``), each started again when it dies."""

    environment: dict[str, str]
    log_path: Path
    arguments: tuple[str, ...] = ()
    """More arguments of ``poison_worker`` (``--fleet``)."""
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    restarts: int = 0
    _stopping: threading.Event = field(default_factory=threading.Event)

    def _spawn(self) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "tests.helpers.poison_worker", *self.arguments]
        with self.log_path.open("ab") as log:
            return subprocess.Popen(
                [*command, "--loglevel", "INFO"],
                env=os.environ | self.environment | {"TF_CPP_MIN_LOG_LEVEL": "2"},
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def start(self, count: int) -> None:
        self.processes = [self._spawn() for _ in range(count)]
        threading.Thread(target=self._keep_alive, daemon=True).start()

    def _keep_alive(self) -> None:
        while not self._stopping.wait(0.2):
            for index, process in enumerate(self.processes):
                if process.poll() is not None:
                    self.processes[index] = self._spawn()
                    self.restarts += 1

    def signal(self, pid: int, number: signal.Signals) -> subprocess.Popen[bytes]:
        """Send one of the workers a signal; returns its process, to wait for its exit."""
        (process,) = [p for p in self.processes if p.pid == pid] or [None]
        assert process is not None, f"{pid} is not one of the workers"
        os.kill(pid, number)
        return process

    def kill(self, pid: int) -> None:
        self.signal(pid, signal.SIGKILL)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def ready(self, settings: Settings, timeout_s: float = 90) -> None:
        """Wait until every worker process answers Celery's ping."""
        app = create_celery(settings)
        try:

            def all_answer() -> bool | None:
                alive = {p.pid for p in self.processes if p.poll() is None}
                try:
                    replies = app.control.ping(timeout=1.0)
                except redis.ConnectionError:
                    return None  # a pooled connection from before a Redis restart
                return len(replies or []) >= len(alive) == len(self.processes) or None

            eventually(all_answer, timeout_s, "every worker to answer")
        finally:
            app.close()

    def stop(self) -> None:
        self._stopping.set()
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@dataclass
class ReliabilityStack:
    settings: Settings
    redis: PersistentRedis
    s3: StoppableS3
    workers: WorkerPool
    client: TestClient
    store: JobStore

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {API_KEY}"}

    def submit(self, body: dict[str, Any]) -> str:
        response = self.client.post("/v1/jobs", json=body, headers=self.auth())
        assert response.status_code == 202, response.text
        job_id: str = response.json()["id"]
        return job_id

    def job(self, job_id: str) -> dict[str, Any]:
        response = self.client.get(f"/v1/jobs/{job_id}", headers=self.auth())
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        return job

    def wait(self, job_id: str, timeout_s: float = 120) -> dict[str, Any]:
        def finished() -> dict[str, Any] | None:
            job = self.job(job_id)
            return job if job["status"] in TERMINAL else None

        return eventually(finished, timeout_s, f"job {job_id} to finish")

    def stored_keys(self, job_id: str) -> list[str]:
        """The job's objects in the bucket, relative to the job's folder."""
        folder = f"{STORAGE_PREFIX}/{job_id}/"
        return [key.removeprefix(folder) for key in self.s3.keys(folder)]

    def running(self, job_id: str, attempt: int = 1) -> dict[str, Any]:
        """The job once the given attempt runs and has stored a snapshot."""

        def started() -> dict[str, Any] | None:
            job = self.job(job_id)
            underway = job["status"] == "running" and job["attempts"] == attempt
            return job if underway and job["snapshots"] else None

        return eventually(started, 120, f"attempt {attempt} of job {job_id} to run")

    def workers_ready(self) -> None:
        self.workers.ready(self.settings)


def referenced_keys(job: dict[str, Any]) -> set[str]:
    """The objects a finished job's record points to, relative to the job's folder."""
    images = job["snapshots"] + job["finals"]
    paths = {image["url"].split("?")[0] for image in images} | {
        url.split("?")[0] for url in job["files"].values()
    }
    return {path.split(f"/{job['id']}/", 1)[1] for path in paths}


@contextmanager
def reliability_stack(folder: Path, **settings: str) -> Iterator[ReliabilityStack]:
    """The stack, its workers with ``TIMINGS`` and ``settings`` (``FEATVIZ_*`` variables)."""
    persistent_redis = PersistentRedis(folder / "redis")
    persistent_redis.start()
    s3 = StoppableS3()
    s3.start()
    s3.client().create_bucket(Bucket=RELIABILITY_BUCKET)
    environment = service_environment(
        persistent_redis.url,
        "featviz-reliability",
        f"s3://{RELIABILITY_BUCKET}/{STORAGE_PREFIX}",
        **s3.environment(),
        **TIMINGS,
        **settings,
    )
    workers = WorkerPool(environment, folder / "workers.log")
    workers.start(WORKERS)
    settings = settings_from(environment)
    try:
        with TestClient(create_app(settings)) as client:
            store = JobStore.from_url(persistent_redis.url)
            yield ReliabilityStack(settings, persistent_redis, s3, workers, client, store)
    finally:
        workers.stop()
        s3.stop()
        persistent_redis.stop()
