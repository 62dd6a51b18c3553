"""An exemplar job whose worker dies in the middle of a shard: the shard runs again on another
worker, and the job's result is the same as a ranking of the whole dataset in one process.
The stack stores in S3 (moto), so datasets and shard lists go through the bucket too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from featviz.datasets import archive_key, manifest_key
from featviz.settings import hash_api_key
from featviz.store.keys import counted_packs_key
from featviz_engine.models import load_network
from tests.helpers.dataset_files import gratings, image_zip
from tests.helpers.exemplar_reference import assert_same_ranking, reference
from tests.helpers.poison_worker import DIES_ONCE_K
from tests.helpers.reliability_stack import STORAGE_PREFIX, ReliabilityStack
from tests.helpers.service_stack import API_KEY, EXEMPLAR_SHARD_IMAGES, eventually

SIZE = 32
FILTERS = list(range(8))


def test_a_shard_whose_worker_dies_runs_again_with_the_same_result(
    breakable_stack: ReliabilityStack, tmp_path: Path
) -> None:
    stack = breakable_stack
    stack.workers_ready()
    archive = image_zip(tmp_path / "gratings.zip", gratings(per_angle=4, size=SIZE))
    files = {"file": (archive.name, archive.read_bytes(), "application/zip")}
    uploaded = stack.client.post(
        "/v1/datasets", files=files, data={"name": "gratings"}, headers=stack.auth()
    )
    assert uploaded.status_code == 202, uploaded.text
    dataset_id = uploaded.json()["id"]

    def ready() -> dict[str, Any] | None:
        dataset: dict[str, Any] = stack.client.get(
            f"/v1/datasets/{dataset_id}", headers=stack.auth()
        ).json()
        return None if dataset["status"] == "validating" else dataset

    assert eventually(ready, 60, "the dataset to be decoded")["status"] == "ready"
    owner = hash_api_key(API_KEY)
    stored = stack.s3.keys(f"{STORAGE_PREFIX}/datasets/{owner}/{dataset_id}/")
    assert sorted(stored) == sorted(
        f"{STORAGE_PREFIX}/{key}"
        for key in (archive_key(owner, dataset_id), manifest_key(owner, dataset_id))
    )

    body = {
        "model": "vgg16",
        "weights": "random",
        "layer": "block1_conv2",
        "filters": FILTERS,
        "dataset": dataset_id,
        "k": DIES_ONCE_K,  # more than the 16 images: every image is ranked, for every filter
        "image_size": SIZE,
    }
    created = stack.client.post("/v1/exemplar-jobs", json=body, headers=stack.auth())
    assert created.status_code == 202, created.text
    job = stack.wait(created.json()["id"])
    assert job["status"] == "succeeded", job["error"]

    shards = [stack.store.get(s) for s in stack.store.redis.smembers(counted_packs_key(job["id"]))]
    assert len(shards) == 16 // EXEMPLAR_SHARD_IMAGES
    attempts = {shard.spec["images"]["start"]: shard.attempts for shard in shards if shard}
    assert attempts == {0: 2, EXEMPLAR_SHARD_IMAGES: 1}, "the first shard's worker died once"

    result = json.loads(httpx.get(job["files"]["result.json"]).content)  # a presigned S3 link
    network = load_network("vgg16", "random")
    names, expected = reference(archive, network, "block1_conv2", FILTERS, DIES_ONCE_K, SIZE)
    assert_same_ranking(result, names, expected)
