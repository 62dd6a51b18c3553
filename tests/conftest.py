"""Shared test set-up. TensorFlow's C++ logging is quietened before anything imports it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

# None of these import TensorFlow.
from tests.helpers.reliability_stack import ReliabilityStack, reliability_stack
from tests.helpers.service_stack import (
    DATASET_PIXELS_CAP,
    OPERATOR_BUCKET,
    OPERATOR_DATASETS,
    S3_BUCKET,
    S3_CREDENTIALS,
    Stack,
    free_port,
    redis_server,
    running_stack,
    service_environment,
    serving,
)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Service fixtures: real redis-server, moto's S3 server over HTTP, real worker processes. Each
# starts once per session; each stack has its own Redis database and queue.


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's standalone S3 server, with a private bucket and the operator's bucket of
    datasets."""
    from moto.server import ThreadedMotoServer

    from tests.helpers.dataset_files import operator_objects

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **S3_CREDENTIALS)
    client.create_bucket(Bucket=S3_BUCKET)
    client.create_bucket(Bucket=OPERATOR_BUCKET)
    for key, payload in operator_objects(DATASET_PIXELS_CAP).items():
        client.put_object(Bucket=OPERATOR_BUCKET, Key=key, Body=payload)
    yield endpoint
    server.stop()


def s3_settings_environment(endpoint: str) -> dict[str, str]:
    return {
        "FEATVIZ_S3_ENDPOINT_URL": endpoint,
        "FEATVIZ_S3_REGION": "us-east-1",
        "FEATVIZ_S3_ACCESS_KEY_ID": S3_CREDENTIALS["aws_access_key_id"],
        "FEATVIZ_S3_SECRET_ACCESS_KEY": S3_CREDENTIALS["aws_secret_access_key"],
    }


@pytest.fixture(scope="session")
def local_stack(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """API + worker with files in a local directory (``featviz up``'s set-up)."""
    folder = tmp_path_factory.mktemp("local-stack")
    environment = service_environment(f"{redis_url}/0", "featviz-local", str(folder / "files"))
    with running_stack(environment, folder / "worker.log") as stack:
        yield stack


@pytest.fixture(scope="session")
def api_url(local_stack: Stack) -> Iterator[str]:
    """The local stack's API over real HTTP, for the SDK and the CLI."""
    from api.main import create_app

    with serving(create_app(local_stack.settings)) as url:
        yield url


@pytest.fixture(scope="session")
def s3_stack(
    redis_url: str, s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """API + worker with files in S3 (moto's server) behind presigned URLs, and the operator
    datasets of ``OPERATOR_DATASETS``."""
    folder = tmp_path_factory.mktemp("s3-stack")
    environment = service_environment(
        f"{redis_url}/1",
        "featviz-s3",
        f"s3://{S3_BUCKET}/jobs",
        FEATVIZ_OPERATOR_DATASETS=",".join(f"{n}={url}" for n, url in OPERATOR_DATASETS.items()),
        **s3_settings_environment(s3_endpoint),
    )
    with running_stack(environment, folder / "worker.log") as stack:
        yield stack


@pytest.fixture(scope="session")
def breakable_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReliabilityStack]:
    """A stack of its own for the reliability tests, which kill and stop its parts: two workers
    (started again when they die), a Redis with AOF, an S3 server that can go down."""
    with reliability_stack(tmp_path_factory.mktemp("reliability")) as stack:
        stack.workers_ready()
        yield stack


@pytest.fixture(scope="session")
def cnn_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small image classifier with open input sizes (``tests.helpers.model_files``)."""
    from tests.helpers.model_files import small_cnn

    return small_cnn(tmp_path_factory.mktemp("models") / "cnn.keras")


@pytest.fixture(scope="session")
def uploaded_cnn(local_stack: Stack, cnn_file: Path) -> tuple[httpx.Response, dict[str, Any]]:
    """``cnn_file`` uploaded to the local stack (as ``caffe``): the answer, and the model once
    ready. Validating a file imports TensorFlow in a child process, so tests share this one."""
    response = local_stack.upload(cnn_file, input_range="caffe")
    assert response.status_code == 202, response.text
    model = local_stack.validated(response.json()["id"], timeout_s=180)
    assert model["status"] == "ready", model
    return response, model


@pytest.fixture
def clean_redis(redis_url: str) -> Iterator[str]:
    """An empty Redis database of its own (number 2), for store tests."""
    import redis

    url = f"{redis_url}/2"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()
