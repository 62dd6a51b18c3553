"""What live workers can serve (featviz.capabilities): which field a refusal names, given the
workers' published capabilities; publishing, expiry and withdrawal in a real redis-server; the
``waiting_for`` note on a job record, cleared when a worker takes the job or it ends."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis

from featviz import capabilities
from featviz.capabilities import Capabilities, live_workers, publish, refusal, withdraw
from featviz.records import WorkerInfo
from featviz.specs import JobSpec, LayerJobSpec
from featviz.store import JobStore, NewJob, new_job_id
from tests.helpers.api_only import QUEUE, api_only, auth
from tests.helpers.reliability_stack import SHORT_JOB

STORAGE = "0123456789abcdef"
JOB = {"layer": "conv3_block1_out", "filter": 1, "image_size": 64, "iterations": 12}
UPLOADED_ID = "mdl_" + "0" * 28


def worker(pid: int, **changes: Any) -> Capabilities:
    """A CPU worker with every model's random weights unless ``changes`` say otherwise."""
    published: dict[str, Any] = {
        "worker": WorkerInfo(host="test", pid=pid),
        "device": "cpu",
        "precisions": ["float32", "bfloat16", "float16"],
        "models": {"resnet50v2": ["random"], "vgg16": ["random", "hed-bsds500"]},
        "heads": [],
        "storage": STORAGE,
    }
    return Capabilities.model_validate(published | changes)


def refused_field(spec: Any, workers: list[Capabilities]) -> str | None:
    problem = refusal(spec, workers, STORAGE)
    if problem is None:
        return None
    assert problem.status == 422
    assert problem.errors is not None
    assert len(problem.errors) == 1
    return problem.errors[0].field


def test_no_worker_alive_refuses_nothing() -> None:
    assert refused_field(JobSpec.model_validate({}), []) is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "weights"),  # the defaults: ResNet50V2 on ImageNet
        ({"weights": "random"}, None),
        ({"model": "mobilenetv2", "layer": "Conv1_relu", "weights": "random"}, "model"),
        ({"weights": "random", "precision": "float16"}, None),
    ],
)
def test_the_field_no_live_worker_serves_is_named(body: dict[str, Any], field: str | None) -> None:
    assert refused_field(JobSpec.model_validate(JOB | body), [worker(1)]) == field


def test_one_worker_able_to_serve_is_enough() -> None:
    spec = JobSpec.model_validate(JOB | {"weights": "imagenet"})
    with_imagenet = worker(2, models={"resnet50v2": ["imagenet", "random"]})
    assert refused_field(spec, [worker(1), with_imagenet]) is None


def test_the_needs_are_met_by_one_worker_not_pooled_across_them() -> None:
    """One worker has the weights, another the precision: neither can run the job, and the
    refusal names the field the workers with the weights lack."""
    imagenet_no_bfloat16 = worker(
        1, models={"resnet50v2": ["imagenet", "random"]}, precisions=["float32"]
    )
    spec = JobSpec.model_validate(JOB | {"weights": "imagenet", "precision": "bfloat16"})
    problem = refusal(spec, [imagenet_no_bfloat16, worker(2)], STORAGE)
    assert problem is not None
    assert problem.errors is not None
    assert problem.errors[0].field == "precision"
    assert "they run float32" in problem.errors[0].message


def test_class_logits_need_a_worker_with_the_imagenet_head() -> None:
    body = JOB | {"weights": "imagenet", "objective": [{"kind": "class_logit"}]}
    body |= {"image_size": 224, "filter": 3}
    spec = JobSpec.model_validate(body)
    without_head = worker(1, models={"resnet50v2": ["imagenet", "random"]})
    assert refused_field(spec, [without_head]) == "objective"
    with_head = worker(2, models={"resnet50v2": ["imagenet", "random"]}, heads=["resnet50v2"])
    assert refused_field(spec, [without_head, with_head]) is None


def test_uploaded_models_need_a_worker_reading_the_same_storage() -> None:
    # Validated without the owner's models, as the API's first pass does; the weights field is
    # the uploaded model's own business.
    body = {key: value for key, value in JOB.items() if key != "filter"}
    spec = LayerJobSpec.model_validate(body | {"model": UPLOADED_ID, "filters": [0]})
    elsewhere = worker(1, storage="fedcba9876543210")
    problem = refusal(spec, [elsewhere], STORAGE)
    assert problem is not None
    assert problem.errors is not None
    assert problem.errors[0].field == "model"
    assert UPLOADED_ID in problem.errors[0].message
    assert refused_field(spec, [elsewhere, worker(2)]) is None


def test_refusals_say_what_the_live_workers_have() -> None:
    problem = refusal(JobSpec.model_validate(JOB), [worker(1)], STORAGE)
    assert problem is not None
    assert problem.detail is not None
    assert "no live worker has the 'imagenet' weights of 'resnet50v2'" in problem.detail
    assert "live workers have random" in problem.detail


# In Redis


@pytest.fixture
def client(clean_redis: str) -> redis.Redis[str]:
    return redis.Redis.from_url(clean_redis, decode_responses=True)


def test_published_capabilities_expire_and_their_index_is_cleaned(
    client: redis.Redis[str],
) -> None:
    publish(client, "queue-a", worker(1), ttl_s=0.3)
    publish(client, "queue-a", worker(2), ttl_s=30)
    publish(client, "queue-b", worker(3), ttl_s=30)
    assert [w.worker.pid for w in live_workers(client, "queue-a")] == [1, 2]
    time.sleep(0.5)
    assert [w.worker.pid for w in live_workers(client, "queue-a")] == [2]
    assert client.smembers("fv:workers:queue-a") == {"test:2"}, "the expired id was dropped"
    withdraw(client, "queue-a", worker(2).worker)
    assert live_workers(client, "queue-a") == []
    assert [w.worker.pid for w in live_workers(client, "queue-b")] == [3]


def test_a_renewed_publication_outlives_its_first_ttl(client: redis.Redis[str]) -> None:
    publish(client, "queue-a", worker(1), ttl_s=0.4)
    time.sleep(0.25)
    publish(client, "queue-a", worker(1, precisions=["float32"]), ttl_s=0.4)
    time.sleep(0.25)
    (live,) = live_workers(client, "queue-a")
    assert live.precisions == ["float32"]


def test_the_storage_digest_names_the_place_not_the_spelling(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.helpers.service_stack import service_environment, settings_from

    def digest(storage_url: str) -> str:
        environment = service_environment("redis://unused", "q", storage_url)
        return capabilities.storage_digest(settings_from(environment))

    monkeypatch.chdir(tmp_path)
    assert digest("files") == digest(str(tmp_path / "files"))
    assert digest("s3://bucket/a") != digest("s3://bucket/b")
    assert digest("files") != digest("other-files")


# The waiting note on a job record


def test_a_waiting_job_stops_waiting_once_a_worker_claims_it(clean_redis: str) -> None:
    store = JobStore.from_url(clean_redis)
    job = NewJob(new_job_id(), "job", "alice", {}, total_iterations=12, waiting_for="worker")
    store.create([job])
    record = store.get(job.id)
    assert record is not None
    assert record.waiting_for == "worker"
    store.claim(job.id, None, WorkerInfo(host="test", pid=1), max_attempts=3, lease_s=30)
    record = store.get(job.id)
    assert record is not None
    assert record.waiting_for is None


def test_a_waiting_layer_job_stops_waiting_when_a_pack_is_claimed(clean_redis: str) -> None:
    store = JobStore.from_url(clean_redis)
    parent = NewJob(
        new_job_id(), "layer_job", "alice", {}, filters=2, packs=1, waiting_for="worker"
    )
    pack = NewJob(new_job_id(), "pack", "alice", {}, parent=parent.id, total_iterations=12)
    store.create([parent, pack])
    store.claim(pack.id, parent.id, WorkerInfo(host="test", pid=1), max_attempts=3, lease_s=30)
    record = store.get(parent.id)
    assert record is not None
    assert record.waiting_for is None


def test_a_waiting_job_canceled_in_the_queue_waits_no_more(clean_redis: str) -> None:
    store = JobStore.from_url(clean_redis)
    job = NewJob(new_job_id(), "job", "alice", {}, total_iterations=12, waiting_for="worker")
    store.create([job])
    assert store.request_cancel(job.id) == "canceled"
    record = store.get(job.id)
    assert record is not None
    assert record.waiting_for is None


# At the API, over published capabilities


def test_a_replay_returns_its_job_though_the_workers_no_longer_serve_it(clean_redis: str) -> None:
    """A client retrying a create after a lost answer gets the job it made, not a refusal."""
    body = SHORT_JOB | {"precision": "bfloat16"}
    client = redis.Redis.from_url(clean_redis, decode_responses=True)
    with api_only(clean_redis) as api:
        publish(client, QUEUE, worker(1), ttl_s=30)
        first = api.post("/v1/jobs", json=body, headers=auth() | {"Idempotency-Key": "k1"})
        assert first.status_code == 202, first.text
        # The worker is replaced by one that runs no bfloat16 (a GPU older than Ampere).
        withdraw(client, QUEUE, worker(1).worker)
        publish(client, QUEUE, worker(2, precisions=["float32", "float16"]), ttl_s=30)
        replay = api.post("/v1/jobs", json=body, headers=auth() | {"Idempotency-Key": "k1"})
        assert (replay.status_code, replay.json()["id"]) == (202, first.json()["id"])
        fresh = api.post("/v1/jobs", json=body, headers=auth() | {"Idempotency-Key": "k2"})
        assert fresh.status_code == 422, fresh.text
        assert [error["field"] for error in fresh.json()["errors"]] == ["precision"]
