"""Operator datasets (``FEATVIZ_OPERATOR_DATASETS``) against the real stack, moto's S3 server
and a worker: the objects under a prefix become a dataset every key sees, checked as an upload
(one over the pixel cap is rejected with the reason), that no key may delete, and that exemplar
jobs and start images read as they read an upload; a worker brings the records in line with
the settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import redis

from featviz.datasets import OPERATOR, DatasetStore, operator_dataset_id
from featviz.queue import JobQueue
from featviz.settings import Settings
from featviz.storage import LocalStorage
from featviz.store import JobStore
from featviz.user_models import ModelStore
from featviz_engine.models import load_network
from tests.helpers.dataset_files import image_zip, operator_images
from tests.helpers.exemplar_reference import assert_same_ranking, reference
from tests.helpers.service_stack import (
    API_KEY,
    OTHER_API_KEY,
    Stack,
    eventually,
)
from tests.service.test_datasets import decoded
from worker.context import WorkerContext
from worker.drain import Drain
from worker.operator_datasets import register_operator_datasets
from worker.retrying_storage import RetryingStorage
from worker.user_models import LoadedModels

TEXTURES = operator_dataset_id("textures")
HUGE = operator_dataset_id("huge")
KEYS = (API_KEY, OTHER_API_KEY)


def listed(stack: Stack, key: str) -> dict[str, dict[str, Any]]:
    return {dataset["id"]: dataset for dataset in stack.get("/v1/datasets", key).json()}


def both_listed(stack: Stack, key: str) -> bool | None:
    return True if {TEXTURES, HUGE} <= set(listed(stack, key)) else None


def test_every_key_sees_them_checked_as_uploads_and_none_deletes_them(s3_stack: Stack) -> None:
    # The worker registers them as its reaper starts, once it is up.
    for key in KEYS:
        eventually(lambda key=key: both_listed(s3_stack, key), 30, "the operator datasets")
    textures = decoded(s3_stack, TEXTURES)
    assert textures["status"] == "ready", textures
    assert textures["image_count"] == len(operator_images()) == 4  # the Finder's file ignored
    assert textures["shared"] is True
    assert textures["name"] == "textures"
    assert textures["size_bytes"] > 0
    huge = decoded(s3_stack, HUGE)
    assert huge["status"] == "rejected", huge
    assert "'huge.png'" in huge["reason"]
    assert "FEATVIZ_DATASET_MAX_IMAGE_PIXELS" in huge["reason"]

    for key in KEYS:
        assert s3_stack.get(f"/v1/datasets/{TEXTURES}", key).json() == textures
        response = s3_stack.client.delete(f"/v1/datasets/{TEXTURES}", headers=s3_stack.auth(key))
        assert response.status_code == 403, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert problem["type"] == "urn:featviz:problem:operator-dataset"
        assert "FEATVIZ_OPERATOR_DATASETS" in problem["detail"]
    assert s3_stack.get(f"/v1/datasets/{TEXTURES}").json()["status"] == "ready"


def test_exemplar_jobs_and_start_images_read_it_as_an_upload(
    s3_stack: Stack, tmp_path: Path
) -> None:
    assert decoded(s3_stack, TEXTURES)["status"] == "ready"
    size, k, filters = 40, 2, [0, 1, 2]
    layer = {"model": "vgg16", "weights": "random", "layer": "block1_conv2", "image_size": size}
    exemplars = s3_stack.submit(
        "/v1/exemplar-jobs", layer | {"filters": filters, "dataset": TEXTURES, "k": k}
    )
    render = {"filter": 0, "iterations": 3, "snapshots": [2]}
    started = s3_stack.submit(
        "/v1/jobs", layer | render | {"start_image": f"{TEXTURES}/grating_090_0.png"}
    )

    job = s3_stack.wait(exemplars["id"])
    assert job["status"] == "succeeded", job
    result = httpx.get(job["files"]["result.json"]).json()
    archive = image_zip(tmp_path / "textures.zip", operator_images())
    network = load_network("vgg16", "random")
    names, expected = reference(archive, network, str(layer["layer"]), filters, k, size)
    assert_same_ranking(result, names, expected)

    start = s3_stack.wait(started["id"])
    assert start["status"] == "succeeded", start
    assert "start.png" in start["files"]


def test_a_worker_brings_the_records_in_line_with_the_settings(
    clean_redis: str, tmp_path: Path
) -> None:
    def context(datasets: dict[str, str]) -> WorkerContext:
        settings = Settings.model_validate(
            {"signing_secret": "s", "redis_url": clean_redis, "storage_url": str(tmp_path)}
            | {"operator_datasets": datasets, "queue": "operator-test"}
        )
        store = JobStore.from_url(clean_redis)
        return WorkerContext(
            settings=settings,
            store=store,
            storage=RetryingStorage(LocalStorage(tmp_path, b""), 1, 0),
            queue=JobQueue(settings),
            models=ModelStore(store.redis),
            datasets=DatasetStore(store.redis),
            loaded_models=LoadedModels(0),
            drain=Drain(0),
        )

    client = redis.Redis.from_url(clean_redis, decode_responses=True)
    datasets = DatasetStore(client)
    first = {"a": "s3://shared/a", "gone": "s3://shared/gone"}
    register_operator_datasets(context(first))
    assert [(d.id, d.status, d.source) for d in datasets.operator_datasets()] == [
        (operator_dataset_id("a"), "validating", "s3://shared/a"),
        (operator_dataset_id("gone"), "validating", "s3://shared/gone"),
    ]
    assert client.llen("operator-test") == 2, "each check queued"
    register_operator_datasets(context(first))
    assert client.llen("operator-test") == 2, "a dataset being checked is not queued again"

    gone = datasets.get(operator_dataset_id("gone"))
    assert gone is not None
    storage = LocalStorage(tmp_path, b"")
    for key in (gone.file_key, gone.manifest_key):
        storage.put(key, b"copied")
    datasets.mark_unreadable(operator_dataset_id("a"), "its files could not be read")
    register_operator_datasets(context({"a": "s3://shared/a"}))
    assert datasets.get(operator_dataset_id("gone")) is None
    assert not storage.path(gone.file_key).exists()
    assert not storage.path(gone.manifest_key).exists()
    again = datasets.get(operator_dataset_id("a"))
    assert again is not None
    assert (again.status, again.reason) == ("validating", None), "an unreadable one is checked"
    assert not again.unreadable
    assert client.llen("operator-test") == 3

    datasets.mark_ready(operator_dataset_id("a"), 5, 100)
    register_operator_datasets(context({"a": "s3://shared/a"}))
    assert client.llen("operator-test") == 3, "a ready one stays"
    register_operator_datasets(context({"a": "s3://shared/a-v2"}))
    moved = datasets.get(operator_dataset_id("a"))
    assert moved is not None
    assert (moved.status, moved.image_count) == ("validating", None)
    assert moved.source == "s3://shared/a-v2"
    assert client.llen("operator-test") == 4
    assert datasets.get_owned(moved.id, "any-key") == moved
    assert [d.id for d in datasets.list_owned("any-key")] == [moved.id]
    assert moved.owner == OPERATOR

    datasets.mark_rejected(moved.id, "'x.png' is not a whole PNG")
    register_operator_datasets(context({"a": "s3://shared/a-v2"}))
    assert client.llen("operator-test") == 4, "one rejected for its images stays rejected"
