"""Capabilities known at submit, with real worker processes: offline workers without ImageNet
weights publish what they have; the API refuses a job none of them can serve and accepts one
they can; with no worker alive a job is accepted and waits for one, until a worker takes it. A
worker stopped with SIGTERM removes its capabilities at once; one killed with SIGKILL drops out
when they expire. ``/readyz`` and ``/metrics`` report the live workers."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from featviz import outbox
from featviz.settings import Settings, hash_api_key
from featviz.store import JobStore
from featviz_engine.devices import gpu_count
from featviz_engine.models import OFFLINE_ENV
from featviz_engine.trained_weights import HED_BSDS500, HED_DISTRIBUTION
from tests.helpers.reliability_stack import SHORT_JOB
from tests.helpers.service_stack import (
    API_KEY,
    TERMINAL,
    eventually,
    service_environment,
    settings_from,
    worker_process,
)

HEARTBEAT_S = 1.0
TTL_S = 6.0
"""``lease_s``: how long a worker's capabilities outlive its last heartbeat."""
WITHDRAWN_WITHIN_S = TTL_S - 2 * HEARTBEAT_S
"""A SIGTERM'd worker's capabilities are gone sooner than they could have expired."""
WORKER_START_S = 120
QUEUE = "featviz-capabilities"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
DEFAULTS_ONLY: dict[str, Any] = {}
"""All defaults: ResNet50V2 with ImageNet weights, which these offline workers do not have."""
RANDOM_LAYER_JOB = SHORT_JOB | {"filters": [0, 1]}
IMAGENET_COMPARISON = SHORT_JOB | {"weights": "imagenet", "filter": 1, "tv_weights": [0, 0.001]}


def hed_installed() -> bool:
    try:
        metadata.distribution(HED_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return False
    return True


@dataclass
class Service:
    settings: Settings
    client: TestClient
    store: JobStore
    environment: dict[str, str]
    log_dir: Path
    workers: ExitStack

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.client.post(path, json=body, headers=AUTH)

    def get(self, path: str) -> Any:
        return self.client.get(path, headers=AUTH)

    def job(self, job_id: str) -> dict[str, Any]:
        response = self.get(f"/v1/jobs/{job_id}")
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        return job

    def finished(self, job_id: str) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            job = self.job(job_id)
            return job if job["status"] in TERMINAL else None

        return eventually(done, 120, f"job {job_id} to finish")

    def readiness(self) -> dict[str, Any]:
        response = self.client.get("/readyz")
        assert response.status_code == 200, response.text
        ready: dict[str, Any] = response.json()
        return ready

    def live_pids(self) -> set[int]:
        return {worker["worker"]["pid"] for worker in self.readiness()["workers"]}

    def recorded(self) -> tuple[int, int, int]:
        """The key's jobs, tasks in the broker, tasks in the outbox."""
        redis = self.store.redis
        owned = self.store.count_owned(hash_api_key(API_KEY))
        return owned, int(redis.llen(QUEUE)), int(redis.zcard(outbox.OUTBOX_KEY))

    def start_worker(self, name: str) -> Any:
        environment = self.environment | {
            OFFLINE_ENV: "1",
            "KERAS_HOME": str(self.log_dir / "keras-home-without-weights"),
        }
        return self.workers.enter_context(worker_process(environment, self.log_dir / name))


@pytest.fixture
def service(redis_url: str, tmp_path: Path) -> Iterator[Service]:
    """The API over an empty Redis database, no worker yet; workers join with ``start_worker``."""
    url = f"{redis_url}/4"
    environment = service_environment(
        url,
        QUEUE,
        str(tmp_path / "files"),
        FEATVIZ_HEARTBEAT_INTERVAL_S=str(HEARTBEAT_S),
        FEATVIZ_LEASE_S=str(TTL_S),
        FEATVIZ_REAPER_INTERVAL_S="0.5",
    )
    settings = settings_from(environment)
    store = JobStore.from_url(url)
    store.redis.flushdb()
    with ExitStack() as workers, TestClient(create_app(settings)) as client:
        yield Service(settings, client, store, environment, tmp_path, workers)
    store.redis.flushdb()


def assert_refused(response: Any, field: str, words: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert [error["field"] for error in problem["errors"]] == [field]
    assert words in problem["detail"], problem


def test_jobs_are_refused_at_submit_when_no_live_worker_can_serve_them(
    service: Service, record_property: Any
) -> None:
    # No worker alive: accepted, and the record says it waits for one.
    waiting = service.post("/v1/jobs", DEFAULTS_ONLY)
    assert waiting.status_code == 202, waiting.text
    assert waiting.json()["waiting_for"] == "worker"
    assert service.readiness()["live_workers"] == 0

    started_at = time.monotonic()
    first = service.start_worker("first.log")
    second = service.start_worker("second.log")
    pids = {first.pid, second.pid}
    eventually(lambda: service.live_pids() == pids or None, WORKER_START_S, "both workers live")
    record_property("live_s_after_start", round(time.monotonic() - started_at, 2))

    # A worker took the waiting job: the note is gone, and the job failed as it had to.
    imagenet_job = service.finished(waiting.json()["id"])
    assert imagenet_job["waiting_for"] is None
    assert imagenet_job["error"]["type"] == "urn:featviz:problem:weights-unavailable"

    # What the workers publish: everything but ImageNet's weights and heads.
    ready = service.readiness()
    assert ready["live_workers"] == 2
    device = "gpu" if gpu_count() else "cpu"
    trained = [HED_BSDS500] if hed_installed() else []
    for worker in ready["workers"]:
        assert worker["device"] == device
        assert "float32" in worker["precisions"]
        assert worker["models"]["resnet50v2"] == ["random"]
        assert worker["models"]["vgg16"] == ["random", *trained]
        assert worker["heads"] == []

    # Every kind of job on ImageNet weights is refused, naming weights, and nothing is kept.
    before = service.recorded()
    assert_refused(service.post("/v1/jobs", DEFAULTS_ONLY), "weights", "'imagenet' weights")
    imagenet_layer_job = RANDOM_LAYER_JOB | {"weights": "imagenet"}
    assert_refused(service.post("/v1/layer-jobs", imagenet_layer_job), "weights", "random")
    assert_refused(service.post("/v1/comparisons", IMAGENET_COMPARISON), "weights", "random")
    assert service.recorded() == before
    # Random weights are served: accepted, with nothing to wait for (canceled: its run is
    # another test's business).
    accepted = service.post("/v1/layer-jobs", RANDOM_LAYER_JOB)
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["waiting_for"] is None
    service.post(f"/v1/layer-jobs/{accepted.json()['id']}/cancel")

    metrics = service.get("/metrics")
    assert f'featviz_workers{{device="{device}"}} 2.0' in metrics.text
    assert 'featviz_worker_weights{model="resnet50v2",weights="random"} 2.0' in metrics.text
    assert 'weights="imagenet"' not in metrics.text
    assert 'featviz_worker_precisions{precision="float32"} 2.0' in metrics.text

    # SIGTERM: the stopping worker removes its capabilities, sooner than they could expire.
    stopped_at = time.monotonic()
    second.send_signal(signal.SIGTERM)
    eventually(lambda: service.live_pids() == {first.pid} or None, TTL_S, "the withdrawal")
    withdrawn_s = time.monotonic() - stopped_at
    record_property("withdrawn_s_after_sigterm", round(withdrawn_s, 2))
    assert withdrawn_s < WITHDRAWN_WITHIN_S

    # SIGKILL: nothing is removed, so the capabilities outlive the worker until they expire.
    killed_at = time.monotonic()
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    assert first.pid in service.live_pids(), "expired sooner than their TTL"
    eventually(lambda: not service.live_pids() or None, TTL_S + 5, "the capabilities to expire")
    expired_s = time.monotonic() - killed_at
    record_property("expired_s_after_sigkill", round(expired_s, 2))
    assert expired_s > TTL_S - 2 * HEARTBEAT_S
    assert service.readiness()["live_workers"] == 0
    assert f'featviz_workers{{device="{device}"}} 0.0' in service.get("/metrics").text

    # No worker alive again: the job the workers refused is accepted, and waits.
    orphan = service.post("/v1/jobs", DEFAULTS_ONLY)
    assert orphan.status_code == 202, orphan.text
    assert service.job(orphan.json()["id"])["waiting_for"] == "worker"
