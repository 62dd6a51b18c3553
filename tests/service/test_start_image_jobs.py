"""Jobs that start from a dataset image, against the real stack: refused at submission unless
the image is in one of the key's ready datasets; run, they store the image as the network saw it
beside the snapshots, whose first is the photo."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from featviz.fields import DEFAULT_START_IMAGE_WEIGHT
from featviz.outputs import START_FILE, ImageFolder
from featviz.settings import hash_api_key
from featviz_engine.dataset_images import square
from featviz_engine.images import crop_for
from tests.helpers.dataset_files import image_zip, photos
from tests.helpers.service_stack import API_KEY, OTHER_API_KEY, Stack
from tests.service.test_datasets import decoded
from tests.service.test_datasets import upload as upload_dataset

SIZE = 48
PHOTO = "photos/astronaut.jpg"
JOB = {
    "model": "vgg16",
    "weights": "random",
    "layer": "block2_conv2",
    "filter": 1,
    "iterations": 6,
    "snapshots": [0],
    "image_size": SIZE,
}


@pytest.fixture(scope="module")
def one_photo(local_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """A dataset of one photo, as a user uploads a photo on its own."""
    folder = tmp_path_factory.mktemp("start-image")
    path = image_zip(folder / "photo.zip", {PHOTO: photos(96)[PHOTO]})
    response = upload_dataset(local_stack, path)
    assert response.status_code == 202, response.text
    ready = decoded(local_stack, response.json()["id"])
    assert ready["status"] == "ready", ready
    return ready["id"], path


def png(stack: Stack, url: str) -> np.ndarray:
    response = stack.client.get(url)
    assert response.status_code == 200, url
    return np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"))


def test_a_job_starts_from_a_dataset_image(local_stack: Stack, one_photo: tuple[str, Path]) -> None:
    reference = f"{one_photo[0]}/{PHOTO}"
    created = local_stack.submit("/v1/jobs", JOB | {"start_image": reference})
    job = local_stack.wait(created["id"])
    assert job["status"] == "succeeded", job
    files = job["files"]

    expected = square(Image.fromarray(photos(96)[PHOTO]), SIZE)
    start = png(local_stack, files[START_FILE])
    # The image as the network saw it: cropped, resized; the JPEG's own decode may differ by a
    # few levels from the pixels it was made from.
    assert start.shape == (SIZE, SIZE, 3)
    assert np.abs(start.astype(int) - expected.astype(int)).mean() < 4

    (snapshot,) = job["snapshots"]
    assert snapshot["path"] == ImageFolder.of(1).snapshot(0)
    first = png(local_stack, snapshot["url"])
    crop = crop_for(SIZE)  # the seed's display crops the border
    inside = start[crop : SIZE - crop, crop : SIZE - crop]
    likeness = np.corrcoef(first.astype(float).ravel(), inside.astype(float).ravel())[0, 1]
    assert likeness > 0.8, "the first snapshot is the photo, one step on"

    result = json.loads(local_stack.client.get(files["result.json"]).content)
    assert result["start_file"] == START_FILE
    assert result["spec"]["start_image"] == reference
    assert result["spec"]["start_image_weight"] == DEFAULT_START_IMAGE_WEIGHT


@pytest.mark.parametrize(
    ("start_image", "reason"),
    [
        ("not-a-reference", "is not dst_<id>/<image>"),
        ("dst_" + "0" * 28 + "/" + PHOTO, "unknown dataset"),
        ("{dataset}/photos/missing.jpg", "has no image 'photos/missing.jpg'"),
        ("{dataset}/", "is not dst_<id>/<image>"),
    ],
)
def test_a_start_image_not_in_a_ready_dataset_of_the_key_is_refused(
    local_stack: Stack, one_photo: tuple[str, Path], start_image: str, reason: str
) -> None:
    owner = hash_api_key(API_KEY)
    before = local_stack.store.count_owned(owner)
    body = JOB | {"start_image": start_image.format(dataset=one_photo[0])}
    response = local_stack.post("/v1/jobs", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    (error,) = response.json()["errors"]
    assert error["field"] == "start_image"
    assert reason in error["message"]
    assert local_stack.store.count_owned(owner) == before, "nothing recorded"


def test_another_keys_dataset_image_is_unknown(
    local_stack: Stack, one_photo: tuple[str, Path]
) -> None:
    body: dict[str, Any] = JOB | {"start_image": f"{one_photo[0]}/{PHOTO}", "filters": [0]}
    del body["filter"]
    response = local_stack.post("/v1/layer-jobs", key=OTHER_API_KEY, json=body)
    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    assert (error["field"], error["message"]) == (
        "start_image",
        f"unknown dataset {one_photo[0]!r}",
    )
