"""API keys are never stored or logged in the clear, and files live in a private bucket that
only presigned links open. (moto checks neither signatures nor expiry, so a tampered or expired
link is not tested here; docs/reliability.md says so.)"""

from __future__ import annotations

import logging

import httpx
import pytest
import redis

from tests.helpers.api_only import api_only, auth
from tests.helpers.reliability_stack import SHORT_JOB, ReliabilityStack
from tests.helpers.service_stack import API_KEY, OTHER_API_KEY

UNKNOWN_KEY = "not-a-configured-key-3f9a"


def test_keys_are_neither_stored_nor_logged(
    clean_redis: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with api_only(clean_redis) as client:
        assert client.post("/v1/jobs", json=SHORT_JOB, headers=auth()).status_code == 202
        assert client.get("/v1/jobs", headers=auth(OTHER_API_KEY)).status_code == 200
        assert client.get("/v1/jobs", headers=auth(UNKNOWN_KEY)).status_code == 401
    store = redis.Redis.from_url(clean_redis)
    everything_stored = "\n".join(f"{key!r} {store.dump(key)!r}" for key in store.scan_iter())
    assert everything_stored, "the job was recorded"
    for key in (API_KEY, OTHER_API_KEY, UNKNOWN_KEY):
        assert key not in everything_stored
        assert key not in caplog.text


def test_the_bucket_is_private_and_presigned_links_open_it(
    breakable_stack: ReliabilityStack,
) -> None:
    stack = breakable_stack
    job = stack.wait(stack.submit(SHORT_JOB))
    assert job["status"] == "succeeded", job["error"]
    link = job["snapshots"][0]["url"]
    assert httpx.get(link).status_code == 200
    anonymous = link.split("?")[0]
    assert httpx.get(anonymous).status_code == 403
    assert API_KEY not in stack.workers.log()
