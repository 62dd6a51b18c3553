"""Outages of what the service depends on: Redis restarted with jobs queued and one running, and
S3 down during uploads, briefly or for good."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.helpers.reliability_stack import LONG_JOB, SHORT_JOB, ReliabilityStack, referenced_keys
from tests.helpers.service_stack import eventually

RecordProperty = Any
PROBLEM = "application/problem+json"


def assert_unavailable(response: Any, status: int = 503) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


@pytest.mark.timeout(300)
def test_jobs_queued_and_running_complete_after_a_redis_restart(
    breakable_stack: ReliabilityStack, record_property: RecordProperty
) -> None:
    stack = breakable_stack
    stack.workers_ready()
    running_id = stack.submit(LONG_JOB)
    stack.running(running_id)
    queued_ids = [stack.submit(SHORT_JOB) for _ in range(3)]

    stack.redis.stop()
    down_at = time.monotonic()
    client, auth = stack.client, stack.auth()
    assert_unavailable(client.get(f"/v1/jobs/{running_id}", headers=auth))
    assert_unavailable(client.get("/v1/jobs", headers=auth))
    assert_unavailable(client.post("/v1/jobs", json=SHORT_JOB, headers=auth))
    assert_unavailable(client.post(f"/v1/jobs/{running_id}/cancel", headers=auth))
    readiness = assert_unavailable(client.get("/readyz"))
    assert readiness["detail"].startswith("redis: ConnectionError")
    assert "storage" not in readiness["detail"]
    time.sleep(2)  # long enough for the workers to lose their connections
    stack.redis.start()
    down_s = time.monotonic() - down_at

    jobs = [stack.wait(job_id, timeout_s=180) for job_id in [running_id, *queued_ids]]
    back_s = time.monotonic() - down_at - down_s
    assert [job["status"] for job in jobs] == ["succeeded"] * 4, [job["error"] for job in jobs]
    assert client.get("/readyz").status_code == 200
    record_property("redis_down_s", round(down_s, 1))
    record_property("all_done_s_after_restart", round(back_s, 1))
    record_property("attempts", [job["attempts"] for job in jobs])


def test_an_upload_retried_through_a_storage_outage_completes(
    breakable_stack: ReliabilityStack, record_property: RecordProperty
) -> None:
    stack = breakable_stack
    stack.workers_ready()
    stack.s3.stop()
    try:
        job_id = stack.submit(SHORT_JOB)
        failed_upload = f"could not store {job_id}/"
        eventually(lambda: failed_upload in stack.workers.log() or None, 120, "a failed upload")
        readiness = assert_unavailable(stack.client.get("/readyz"))
        assert readiness["detail"].startswith("storage: EndpointConnectionError")
        time.sleep(1)
    finally:
        stack.s3.start()
    job = stack.wait(job_id)

    assert job["status"] == "succeeded", job["error"]
    assert job["attempts"] == 1, "retried in the same attempt"
    keys = stack.stored_keys(job_id)
    assert sorted(keys) == sorted(referenced_keys(job)), "every object the record names exists"
    record_property("failed_tries", stack.workers.log().count(failed_upload))


def test_a_job_fails_with_a_reason_when_storage_stays_down(
    breakable_stack: ReliabilityStack, record_property: RecordProperty
) -> None:
    stack = breakable_stack
    stack.workers_ready()
    stack.s3.stop()
    try:
        started = time.monotonic()
        job_id = stack.submit(SHORT_JOB)
        job = stack.wait(job_id)
        failed_after_s = time.monotonic() - started
    finally:
        stack.s3.start()

    assert job["status"] == "failed"
    error = job["error"]
    assert error["type"] == "urn:featviz:problem:storage-unavailable"
    assert error["status"] == 503
    tries = stack.settings.storage_attempts
    assert f"in {tries} tries" in error["detail"]
    assert job["attempts"] == 1
    assert stack.stored_keys(job_id) == []
    record_property("failed_after_s", round(failed_after_s, 1))
    record_property("detail", error["detail"])
