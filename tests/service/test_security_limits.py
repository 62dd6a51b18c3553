"""Per-key limits: a rate limit (429 with Retry-After) and a cap on queued jobs, both as problem
details, against a real Redis; no worker runs, so submitted jobs stay queued."""

from __future__ import annotations

import time
from typing import Any

from featviz.settings import hash_api_key
from featviz.store import JobStore
from tests.helpers.api_only import QUEUE, api_only, auth
from tests.helpers.reliability_stack import SHORT_JOB
from tests.helpers.service_stack import API_KEY, OTHER_API_KEY

PROBLEM = "application/problem+json"


def assert_too_many(response: Any, kind: str) -> int:
    """The 429 problem; returns its Retry-After in seconds."""
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == f"urn:featviz:problem:{kind}"
    return int(response.headers["retry-after"])


def test_a_key_over_its_rate_gets_429_with_retry_after(clean_redis: str) -> None:
    limits = {"FEATVIZ_RATE_LIMIT_PER_S": "1", "FEATVIZ_RATE_LIMIT_BURST": "3"}
    with api_only(clean_redis, **limits) as client:
        answers = [client.get("/v1/models", headers=auth()).status_code for _ in range(3)]
        assert answers == [200, 200, 200], "a burst is allowed"
        retry_after_s = assert_too_many(client.get("/v1/models", headers=auth()), "rate-limited")
        assert 1 <= retry_after_s <= 2
        assert client.get("/v1/models", headers=auth(OTHER_API_KEY)).status_code == 200
        time.sleep(retry_after_s)
        assert client.get("/v1/models", headers=auth()).status_code == 200


def test_a_key_with_too_many_queued_jobs_gets_429(clean_redis: str) -> None:
    with api_only(clean_redis, FEATVIZ_MAX_QUEUED_JOBS_PER_KEY="2") as client:
        first, _ = (client.post("/v1/jobs", json=SHORT_JOB, headers=auth()) for _ in range(2))
        assert first.status_code == 202
        refused = client.post("/v1/jobs", json=SHORT_JOB, headers=auth())
        assert assert_too_many(refused, "too-many-queued-jobs") >= 1
        store = JobStore.from_url(clean_redis)
        assert store.count_owned(hash_api_key(API_KEY)) == 2, "the refused job was not recorded"
        assert store.redis.llen(QUEUE) == 2, "nor enqueued"
        other = client.post("/v1/jobs", json=SHORT_JOB, headers=auth(OTHER_API_KEY))
        assert other.status_code == 202, "the cap is per key"
        canceled = client.post(f"/v1/jobs/{first.json()['id']}/cancel", headers=auth())
        assert canceled.json()["status"] == "canceled"
        assert client.post("/v1/jobs", json=SHORT_JOB, headers=auth()).status_code == 202
