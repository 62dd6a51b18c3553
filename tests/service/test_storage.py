"""Both storage backends: S3 through moto's server over HTTP, and a local directory."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from featviz.settings import Settings
from featviz.storage import InvalidKeyError, LocalStorage, S3Storage, StoredObject, open_storage
from tests.helpers.dataset_files import operator_objects
from tests.helpers.service_stack import (
    DATASET_PIXELS_CAP,
    OPERATOR_BUCKET,
    S3_BUCKET,
    S3_CREDENTIALS,
)

PNG_BYTES = b"\x89PNG\r\n\x1a\n-not-really-an-image"


def settings(**values: object) -> Settings:
    return Settings.model_validate({"signing_secret": "s3cret-for-tests"} | values)


@pytest.fixture
def s3(s3_endpoint: str) -> S3Storage:
    storage = open_storage(
        settings(
            storage_url=f"s3://{S3_BUCKET}/storage-test",
            s3_endpoint_url=s3_endpoint,
            s3_access_key_id=S3_CREDENTIALS["aws_access_key_id"],
            s3_secret_access_key=S3_CREDENTIALS["aws_secret_access_key"],
        )
    )
    assert isinstance(storage, S3Storage)
    return storage


def test_s3_put_get_and_presigned_download(s3: S3Storage) -> None:
    s3.put("job/1/iter_0005.png", PNG_BYTES)
    s3.put("job/1/iter_0005.png", PNG_BYTES + b"again")  # a rerun overwrites
    assert s3.get("job/1/iter_0005.png") == PNG_BYTES + b"again"
    head = s3.client.head_object(Bucket=S3_BUCKET, Key="storage-test/job/1/iter_0005.png")
    assert head["ContentType"] == "image/png"
    url = s3.url("job/1/iter_0005.png", expires_in_s=60)
    assert "X-Amz-Expires=60" in url
    response = httpx.get(url)
    assert response.status_code == 200
    assert response.content == PNG_BYTES + b"again"
    assert s3.client.meta.config.retries["mode"] == "standard"
    s3.ping()


def test_s3_ping_fails_for_a_missing_bucket(s3_endpoint: str) -> None:
    storage = open_storage(
        settings(
            storage_url="s3://no-such-bucket",
            s3_endpoint_url=s3_endpoint,
            s3_access_key_id="testing",
            s3_secret_access_key="testing",
        )
    )
    with pytest.raises(Exception, match=r"404|Not Found|NoSuchBucket"):
        storage.ping()


def test_local_put_get_and_signed_links(tmp_path: Path) -> None:
    storage = open_storage(settings(storage_url=str(tmp_path)))
    assert isinstance(storage, LocalStorage)
    storage.put("job/1/iter_0005.png", PNG_BYTES)
    assert storage.get("job/1/iter_0005.png") == PNG_BYTES
    assert (tmp_path / "job" / "1" / "iter_0005.png").read_bytes() == PNG_BYTES
    link = httpx.URL(storage.url("job/1/iter_0005.png", expires_in_s=60))
    assert link.path == "/v1/files/job/1/iter_0005.png"
    expires, signature = int(link.params["expires"]), link.params["signature"]
    assert storage.verify("job/1/iter_0005.png", expires, signature)
    assert not storage.verify("job/1/iter_0010.png", expires, signature), "bound to the key"
    assert not storage.verify("job/1/iter_0005.png", expires + 1, signature), "bound to expiry"
    past = int(time.time()) - 1
    assert not storage.verify("job/1/iter_0005.png", past, storage.links.signature("job/1/x", past))
    expired = storage.links.signature("job/1/iter_0005.png", past)
    assert not storage.verify("job/1/iter_0005.png", past, expired), "expired"
    other = LocalStorage(tmp_path, b"another secret")
    assert not other.verify("job/1/iter_0005.png", expires, signature)


@pytest.mark.parametrize("key", ["../etc/passwd", "/etc/passwd", "a/../../b", ""])
def test_local_keys_cannot_leave_the_directory(tmp_path: Path, key: str) -> None:
    storage = LocalStorage(tmp_path, b"secret")
    with pytest.raises(InvalidKeyError):
        storage.put(key, b"x")


def test_both_backends_list_what_a_url_holds(s3_endpoint: str, tmp_path: Path) -> None:
    config = settings(
        s3_endpoint_url=s3_endpoint,
        s3_access_key_id=S3_CREDENTIALS["aws_access_key_id"],
        s3_secret_access_key=S3_CREDENTIALS["aws_secret_access_key"],
    )
    textures = open_storage(config, f"s3://{OPERATOR_BUCKET}/textures").listing()
    expected = {
        key.removeprefix("textures/"): len(payload)
        for key, payload in operator_objects(DATASET_PIXELS_CAP).items()
        if key.startswith("textures/")
    }
    assert [(found.key, found.size) for found in textures] == sorted(expected.items())

    local = LocalStorage(tmp_path, b"")
    local.put("b/deeper/one.png", b"12345")
    local.put("a.png", b"1")
    listed = open_storage(config, str(tmp_path)).listing()
    assert listed == [StoredObject("a.png", 1), StoredObject("b/deeper/one.png", 5)]
