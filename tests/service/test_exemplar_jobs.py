"""Exemplar jobs through the API against the real stack: a dataset split into shards that the
worker runs one by one, merged into each filter's top-k; the result equals a single-process
ranking of the same images, and on the small pattern network (uploaded as a model) each grating
class's filter picks that class's gratings."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from featviz.settings import hash_api_key
from featviz_engine import toy_network
from tests.helpers.dataset_files import GRATING_ANGLES, gratings, image_zip, photos
from tests.helpers.exemplar_reference import assert_same_ranking, reference
from tests.helpers.paths import CACHE_DIR
from tests.helpers.service_stack import API_KEY, EXEMPLAR_SHARD_IMAGES, OTHER_API_KEY, Stack
from tests.service.test_datasets import decoded
from tests.service.test_datasets import upload as upload_dataset

SIZE = 48
K = 4
CLASSES = {angle: toy_network.CLASSES.index(f"grating_{angle}") for angle in GRATING_ANGLES}


@pytest.fixture(scope="module")
def toy_model(local_stack: Stack) -> tuple[str, list[int]]:
    """The pattern network uploaded, and its grating classes' filters."""
    path = toy_network.cached_file(CACHE_DIR)
    response = local_stack.upload(path, input_range="[-1,1]")
    assert response.status_code == 202, response.text
    model = local_stack.validated(response.json()["id"])
    assert model["status"] == "ready", model
    trained = toy_network.load_or_train(CACHE_DIR)
    return model["id"], [toy_network.class_filter(trained, index) for index in CLASSES.values()]


@pytest.fixture(scope="module")
def dataset(local_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    path = image_zip(
        tmp_path_factory.mktemp("exemplars") / "patterns.zip",
        gratings(per_angle=5, size=SIZE) | photos(SIZE),
    )
    response = upload_dataset(local_stack, path)
    assert response.status_code == 202, response.text
    ready = decoded(local_stack, response.json()["id"])
    assert ready["status"] == "ready", ready
    return ready["id"], path


def get_file(stack: Stack, url: str) -> bytes:
    response = stack.client.get(url)
    assert response.status_code == 200, url
    return response.content


def test_an_exemplar_job_ranks_the_dataset_over_shards(
    local_stack: Stack, toy_model: tuple[str, list[int]], dataset: tuple[str, Path]
) -> None:
    model_id, filters = toy_model
    dataset_id, archive = dataset
    body = {"model": model_id, "layer": "features", "filters": filters, "dataset": dataset_id}
    created = local_stack.submit("/v1/exemplar-jobs", body | {"k": K, "image_size": SIZE})
    assert created["kind"] == "exemplar_job"
    job = local_stack.wait(created["id"])
    assert job["status"] == "succeeded", job
    images = 4 * 5 + 6
    assert job["counts"] == {"total": images, "succeeded": images, "failed": 0, "canceled": 0}
    assert job["progress"] == {"iteration": images, "total": images}
    shards = local_stack.store.redis.scard(f"fv:job:{job['id']}:packs")
    assert shards == -(-images // EXEMPLAR_SHARD_IMAGES) == 4

    result = json.loads(get_file(local_stack, job["files"]["result.json"]))
    assert result["receptive_field"] == {"size": 20, "stride": 4.0, "offset": 2.0}
    assert [found["filter"] for found in result["filters"]] == filters
    names, expected = reference(
        archive, toy_network.register(CACHE_DIR), "features", filters, K, SIZE
    )
    assert_same_ranking(result, names, expected)
    for angle, found in zip(CLASSES, result["filters"], strict=True):
        picked = [e["image"] for e in found["exemplars"]]
        assert all(name.startswith(f"grating_{angle:03d}_") for name in picked[:3]), (angle, picked)
        for path in (found["crops"], found["images"]):
            with Image.open(io.BytesIO(get_file(local_stack, job["files"][path]))) as strip:
                assert strip.width >= K * 96, path  # k tiles side by side
                assert strip.height < strip.width / 2, path


def test_every_filter_of_an_uploaded_models_layer_by_default(
    local_stack: Stack, toy_model: tuple[str, list[int]], dataset: tuple[str, Path]
) -> None:
    body = {"model": toy_model[0], "layer": "features", "dataset": dataset[0], "k": 1}
    job = local_stack.wait(
        local_stack.submit("/v1/exemplar-jobs", body | {"image_size": SIZE})["id"]
    )
    assert job["status"] == "succeeded", job
    assert job["spec"]["filters"] == list(range(32)), "resolved when it was submitted"
    result = json.loads(get_file(local_stack, job["files"]["result.json"]))
    assert [len(found["exemplars"]) for found in result["filters"]] == [1] * 32


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"dataset": "dst_" + "0" * 28}, "dataset"),
        ({"dataset": "not-a-dataset"}, "dataset"),
        ({"k": 0}, "k"),
        ({"layer": "no_such_layer"}, "layer"),
        ({"filters": [999]}, "filters"),
    ],
)
def test_a_wrong_exemplar_job_is_refused_naming_the_field(
    local_stack: Stack,
    toy_model: tuple[str, list[int]],
    dataset: tuple[str, Path],
    change: dict[str, Any],
    field: str,
) -> None:
    body = {"model": toy_model[0], "layer": "features", "dataset": dataset[0], "image_size": SIZE}
    owner = hash_api_key(API_KEY)
    before = local_stack.store.count_owned(owner)
    response = local_stack.post("/v1/exemplar-jobs", json=body | change)
    assert response.status_code == 422, response.text
    assert [error["field"] for error in response.json()["errors"]] == [field]
    assert local_stack.store.count_owned(owner) == before, "nothing recorded"


def test_another_keys_dataset_is_unknown(
    local_stack: Stack, toy_model: tuple[str, list[int]], dataset: tuple[str, Path]
) -> None:
    body = {"model": "vgg16", "weights": "random", "layer": "block1_conv1", "dataset": dataset[0]}
    response: httpx.Response = local_stack.post(
        "/v1/exemplar-jobs", key=OTHER_API_KEY, json=body | {"image_size": 32}
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "dataset"
