"""Hostile bodies: oversized, very long lists and strings, odd unicode, NaN and infinities as
numbers and as strings, negative and huge integers, wrong JSON types. Each is a 4xx problem, and
nothing is recorded or enqueued."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from featviz.settings import hash_api_key
from featviz.store import JobStore
from tests.helpers.api_only import QUEUE, api_only, auth
from tests.helpers.reliability_stack import SHORT_JOB
from tests.helpers.service_stack import API_KEY

BODY_LIMIT = 16384


def job(**changes: Any) -> bytes:
    """A job body with fields changed, written as Python's json does (NaN, Infinity allowed)."""
    return json.dumps(SHORT_JOB | {"filter": 1} | changes).encode()


HOSTILE: dict[str, bytes] = {
    "over the body limit": job(layer="x" * (BODY_LIMIT + 1)),
    "a long string": job(layer="conv3_block1_out" * 500),
    "a long list": job(iterations=5000, snapshots=list(range(2000))),
    "a nested list": job(snapshots=[[[[1]]]]),
    "NUL in a string": job(layer="conv3_block1_out\u0000"),
    "right-to-left override": job(layer="\u202econv3_block1_out"),
    "emoji model name": job(model="resnet\U0001f525"),
    "lone surrogate": b'{"layer": "\\ud800", "weights": "random"}',
    "invalid UTF-8": b'{"layer": "\xff\xfe", "weights": "random"}',
    "NaN": job(learning_rate=float("nan")),
    "Infinity": job(tv_weight=float("inf")),
    "-Infinity": job(learning_rate=float("-inf")),
    "NaN as a string": job(tv_weight="NaN"),
    "Infinity as a string": job(learning_rate="Infinity"),
    "1e999": b'{"learning_rate": 1e999, "weights": "random"}',
    "negative iterations": job(iterations=-5),
    "negative image size": job(image_size=-64),
    "huge filter": job(filter=10**30),
    "2**64 seed": job(seed=2**64),
    "huge image size": job(image_size=10**100),
    "a 5000-digit integer": b'{"iterations": ' + b"9" * 5000 + b"}",
    "a float for an int": job(filter=1.5),
    "a string for a list": job(snapshots="5"),
    "an object for a string": job(layer={"name": "conv3_block1_out"}),
    "null for an int": job(iterations=None),
    "a list as the body": b"[1, 2, 3]",
    "a string as the body": b'"job"',
    "null as the body": b"null",
    "a number as the body": b"12",
    "truncated JSON": b'{"layer": "conv3',
    "empty body": b"",
}


@pytest.fixture(scope="module")
def client_and_store(redis_url: str) -> Iterator[tuple[TestClient, JobStore]]:
    url = f"{redis_url}/3"
    store = JobStore.from_url(url)
    store.redis.flushdb()
    with api_only(url, FEATVIZ_MAX_BODY_BYTES=str(BODY_LIMIT)) as client:
        yield client, store
    store.redis.flushdb()


@pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_body_is_a_4xx_problem_and_nothing_is_enqueued(
    client_and_store: tuple[TestClient, JobStore], body: bytes
) -> None:
    client, store = client_and_store
    headers = auth() | {"Content-Type": "application/json"}
    response = client.post("/v1/jobs", content=body, headers=headers)
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == response.status_code
    assert store.count_owned(hash_api_key(API_KEY)) == 0
    assert store.redis.llen(QUEUE) == 0


def test_a_chunked_body_over_the_limit_is_413(
    client_and_store: tuple[TestClient, JobStore],
) -> None:
    client, store = client_and_store

    def chunks() -> Iterator[bytes]:
        yield job(layer="x" * BODY_LIMIT)

    headers = auth() | {"Content-Type": "application/json"}
    response = client.post("/v1/jobs", content=chunks(), headers=headers)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert store.redis.llen(QUEUE) == 0
