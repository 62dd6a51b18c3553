"""Real service parts for the tests: a redis-server, a Celery worker process, the API app.

The fixtures in ``conftest.py`` start them once per session; this module holds how, on top of
``featviz_cli.local_stack`` (which the benchmarks share).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from api.main import create_app
from featviz.settings import Settings
from featviz.store import JobStore
from featviz_cli.local_stack import (
    eventually,
    free_port,
    redis_server,
    serving,
    settings_from,
    stack_environment,
    worker_process,
)

__all__ = [
    "eventually",
    "free_port",
    "redis_server",
    "serving",
    "settings_from",
]

API_KEY = "test-key-alice"
OTHER_API_KEY = "test-key-bob"
TERMINAL = ("succeeded", "failed", "canceled")
QUICK_JOB = {
    "weights": "random",
    "model": "resnet50v2",
    "layer": "conv2_block1_out",
    "image_size": 32,
    "iterations": 3,
    "snapshots": [2],
}
"""A job any worker runs in seconds, for tests about what carries it rather than the render."""
S3_BUCKET = "featviz-test"
MODEL_UPLOAD_CAP_BYTES = 256 * 1024
"""Small, so a test can send a file over it; the tests' models take a few dozen KB."""
DATASET_UPLOAD_CAP_BYTES = 1024 * 1024
DATASET_IMAGES_CAP = 64
DATASET_PIXELS_CAP = 512 * 512
EXEMPLAR_SHARD_IMAGES = 8
"""Small, so a test's dataset of a few dozen images runs as several shards."""
VALIDATION_MEMORY_BYTES = 1024**3
"""The memory limit of the process that checks an upload: a quarter of the default, so that a
layer of 1.6 GB breaks it (under the default it would be allocated, on a shared test machine)."""
S3_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
OPERATOR_BUCKET = "featviz-shared"
OPERATOR_DATASETS = {
    "textures": f"s3://{OPERATOR_BUCKET}/textures",
    "huge": f"s3://{OPERATOR_BUCKET}/too-big",
}
"""The S3 stack's operator datasets (``tests.helpers.dataset_files.operator_objects``)."""


def service_environment(
    redis_url: str,
    queue: str,
    storage_url: str,
    api_keys: Sequence[str] = (API_KEY, OTHER_API_KEY),
    **extra: str,
) -> dict[str, str]:
    """The FEATVIZ_* settings of one test stack; both API and worker read them."""
    return stack_environment(
        redis_url,
        queue,
        storage_url,
        list(api_keys),
        FEATVIZ_SIGNING_SECRET="a-test-signing-secret",
        FEATVIZ_MAX_BODY_BYTES="16384",
        FEATVIZ_MAX_MODEL_UPLOAD_BYTES=str(MODEL_UPLOAD_CAP_BYTES),
        FEATVIZ_MAX_DATASET_UPLOAD_BYTES=str(DATASET_UPLOAD_CAP_BYTES),
        FEATVIZ_DATASET_MAX_IMAGES=str(DATASET_IMAGES_CAP),
        FEATVIZ_DATASET_MAX_IMAGE_PIXELS=str(DATASET_PIXELS_CAP),
        FEATVIZ_EXEMPLAR_SHARD_IMAGES=str(EXEMPLAR_SHARD_IMAGES),
        FEATVIZ_EXEMPLAR_BATCH_IMAGES="4",
        FEATVIZ_UPLOAD_MEMORY_BYTES=str(VALIDATION_MEMORY_BYTES),
        # The tests poll in tight loops; the rate limit has tests of its own.
        FEATVIZ_RATE_LIMIT_PER_S="10000",
        FEATVIZ_RATE_LIMIT_BURST="10000",
        # Webhook tests deliver to receivers on loopback, retried quickly.
        FEATVIZ_WEBHOOK_PRIVATE_NETWORKS="127.0.0.0/8",
        FEATVIZ_WEBHOOK_BACKOFF_S="0.2",
        **extra,
    )


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

    def upload(self, path: Path, input_range: str = "[0,1]", key: str = API_KEY) -> httpx.Response:
        """POST a model file to /v1/models."""
        files = {"file": (path.name, path.read_bytes(), "application/octet-stream")}
        data = {"name": path.stem, "input_range": input_range}
        response: httpx.Response = self.post("/v1/models", key=key, files=files, data=data)
        return response

    def validated(self, model_id: str, timeout_s: float = 60) -> dict[str, Any]:
        """The model once its worker has validated it."""

        def settled() -> dict[str, Any] | None:
            assert self.worker.poll() is None, "the worker process died"
            model: dict[str, Any] = self.get(f"/v1/models/{model_id}").json()
            return None if model["status"] == "validating" else model

        result: dict[str, Any] = eventually(settled, timeout_s, f"model {model_id} to be validated")
        return result

    def queue_length(self) -> int:
        return int(self.store.redis.llen(self.settings.queue))


@contextmanager
def running_stack(environment: dict[str, str], log_path: Path) -> Iterator[Stack]:
    """Start a worker process and the API for ``environment``; stop them afterwards."""
    settings = settings_from(environment)
    with (
        worker_process(environment, log_path) as worker,
        TestClient(create_app(settings)) as client,
    ):
        yield Stack(settings, client, JobStore.from_url(settings.redis_url), worker)
