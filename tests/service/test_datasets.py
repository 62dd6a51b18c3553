"""Datasets through the API against the real stack: decoded by a worker, hostile archives
refused with the reason, one key's datasets invisible to another, deleted with their files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from featviz.datasets import archive_key, manifest_key
from featviz.settings import hash_api_key
from featviz.storage import LocalStorage
from tests.helpers.dataset_files import gratings, hostile_zips, image_zip, photos
from tests.helpers.service_stack import (
    API_KEY,
    DATASET_IMAGES_CAP,
    DATASET_PIXELS_CAP,
    DATASET_UPLOAD_CAP_BYTES,
    OTHER_API_KEY,
    Stack,
    eventually,
)


def upload(stack: Stack, path: Path, name: str = "pictures", key: str = API_KEY) -> httpx.Response:
    files = {"file": (path.name, path.read_bytes(), "application/zip")}
    response: httpx.Response = stack.post("/v1/datasets", key=key, files=files, data={"name": name})
    return response


def decoded(stack: Stack, dataset_id: str) -> dict[str, Any]:
    """The dataset once a worker has checked it."""

    def settled() -> dict[str, Any] | None:
        dataset: dict[str, Any] = stack.get(f"/v1/datasets/{dataset_id}").json()
        return None if dataset["status"] == "validating" else dataset

    found: dict[str, Any] = eventually(settled, 60, f"dataset {dataset_id} to be checked")
    return found


def test_a_zip_of_images_is_decoded_listed_and_deleted(local_stack: Stack, tmp_path: Path) -> None:
    images = gratings(per_angle=1, size=40) | photos(48)
    response = upload(local_stack, image_zip(tmp_path / "mixed.zip", images))
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["status"] == "validating"
    assert response.headers["Location"] == f"/v1/datasets/{accepted['id']}"

    dataset = decoded(local_stack, accepted["id"])
    assert dataset["status"] == "ready", dataset
    assert dataset["image_count"] == len(images) == 10
    assert dataset["reason"] is None
    listed = local_stack.get("/v1/datasets").json()
    assert dataset["id"] in [entry["id"] for entry in listed]

    # Another key sees nothing of it, and cannot delete it.
    assert local_stack.get(f"/v1/datasets/{dataset['id']}", key=OTHER_API_KEY).status_code == 404
    other = local_stack.client.delete(
        f"/v1/datasets/{dataset['id']}", headers=local_stack.auth(OTHER_API_KEY)
    )
    assert other.status_code == 404
    assert dataset["id"] not in [
        d["id"] for d in local_stack.get("/v1/datasets", OTHER_API_KEY).json()
    ]

    storage = LocalStorage(Path(local_stack.settings.storage_url), b"")
    owner = hash_api_key(API_KEY)
    manifest = storage.get(manifest_key(owner, dataset["id"]))
    assert b"photos/astronaut.jpg" in manifest
    deleted = local_stack.client.delete(f"/v1/datasets/{dataset['id']}", headers=local_stack.auth())
    assert deleted.status_code == 204
    assert local_stack.get(f"/v1/datasets/{dataset['id']}").status_code == 404
    for key in (archive_key(owner, dataset["id"]), manifest_key(owner, dataset["id"])):
        assert not storage.path(key).exists(), key


SHOWN_THROUGH_THE_API = ("zip bomb", "path traversal", "pixel bomb")
"""Every hostile archive has a test of its own in test_dataset_archives.py; these go through
the whole service."""


def test_hostile_archives_are_refused_with_the_reason(local_stack: Stack, tmp_path: Path) -> None:
    every = hostile_zips(tmp_path, DATASET_IMAGES_CAP, DATASET_PIXELS_CAP)
    cases = {name: every[name] for name in SHOWN_THROUGH_THE_API}
    accepted = {}
    for name, (path, _) in cases.items():
        response = upload(local_stack, path)
        assert response.status_code == 202, (name, response.text)
        accepted[name] = response.json()["id"]
    for name, dataset_id in accepted.items():
        dataset = decoded(local_stack, dataset_id)
        assert dataset["status"] == "rejected", (name, dataset)
        assert cases[name][1] in dataset["reason"], (name, dataset["reason"])


@pytest.mark.parametrize(
    ("filename", "form", "field"),
    [
        ("images.tar", {"name": "x"}, "file"),
        ("images.zip", {}, "name"),
    ],
)
def test_a_wrong_form_is_refused_naming_the_field(
    local_stack: Stack, tmp_path: Path, filename: str, form: dict[str, str], field: str
) -> None:
    before = local_stack.store.redis.zcard("fv:outbox")
    files = {"file": (filename, b"PK\x03\x04", "application/zip")}
    response = local_stack.post("/v1/datasets", files=files, data=form)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [error["field"] for error in response.json()["errors"]] == [field]
    assert local_stack.store.redis.zcard("fv:outbox") == before


def test_an_archive_over_the_size_cap_is_refused_before_it_is_read(local_stack: Stack) -> None:
    files = {"file": ("big.zip", b"\0" * (DATASET_UPLOAD_CAP_BYTES + 1), "application/zip")}
    response = local_stack.post("/v1/datasets", files=files, data={"name": "big"})
    assert response.status_code == 413, response.text
