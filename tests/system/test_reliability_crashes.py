"""Workers that die: the job runs again within seconds of its last heartbeat (not after the
broker's visibility timeout), a job that kills every worker fails with a reason, a duplicate
delivery does not run twice, and a dead worker's canceled job is not run again."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import pytest

from featviz.queue import JobQueue
from tests.helpers.poison_worker import POISON_SEED
from tests.helpers.reliability_stack import LONG_JOB, SHORT_JOB, ReliabilityStack, referenced_keys
from tests.helpers.service_stack import eventually

RecordProperty = Any


def test_a_job_whose_worker_is_killed_runs_again_and_succeeds(
    breakable_stack: ReliabilityStack, record_property: RecordProperty
) -> None:
    stack = breakable_stack
    stack.workers_ready()
    job_id = stack.submit(LONG_JOB)
    running = stack.running(job_id)
    victim = running["worker"]["pid"]
    last_heartbeat = datetime.fromisoformat(stack.job(job_id)["heartbeat_at"]).timestamp()
    stack.workers.kill(victim)
    killed_at = time.time()

    def rerun() -> float | None:
        job = stack.job(job_id)
        return time.time() if job["attempts"] == 2 else None

    rerun_at = eventually(rerun, 60, "the job to run again")
    job = stack.wait(job_id)

    assert job["status"] == "succeeded", job["error"]
    assert job["attempts"] == 2
    assert job["worker"]["pid"] != victim
    seconds_after_heartbeat = rerun_at - last_heartbeat
    assert seconds_after_heartbeat < 60
    # The lease is 4 s: a visibility timeout (hours by default) played no part.
    assert seconds_after_heartbeat < stack.settings.lease_s + 5
    keys = stack.stored_keys(job_id)
    assert sorted(keys) == sorted(referenced_keys(job)), "one object per key, none left over"
    record_property("rerun_s_after_last_heartbeat", round(seconds_after_heartbeat, 2))
    record_property("rerun_s_after_kill", round(rerun_at - killed_at, 2))
    record_property("objects", len(keys))


def test_the_same_job_delivered_twice_at_once_runs_once(
    breakable_stack: ReliabilityStack, record_property: RecordProperty
) -> None:
    stack = breakable_stack
    stack.workers_ready()
    job_id = stack.submit(LONG_JOB)
    queue = JobQueue(stack.settings)
    queue.enqueue(job_id)
    queue.close()
    job = stack.wait(job_id)

    assert job["status"] == "succeeded", job["error"]
    assert job["attempts"] == 1
    assert f"job {job_id}: leased (attempt 1)" in stack.workers.log(), "the second was refused"
    keys = stack.stored_keys(job_id)
    assert sorted(keys) == sorted(referenced_keys(job))
    record_property("objects", len(keys))


def test_a_canceled_job_whose_worker_died_is_not_run_again(
    breakable_stack: ReliabilityStack,
) -> None:
    stack = breakable_stack
    stack.workers_ready()
    job_id = stack.submit(LONG_JOB)
    running = stack.running(job_id)
    stack.workers.kill(running["worker"]["pid"])
    answer = stack.client.post(f"/v1/jobs/{job_id}/cancel", headers=stack.auth())
    assert answer.status_code == 202
    job = stack.wait(job_id, timeout_s=30)
    assert job["status"] == "canceled"
    assert job["attempts"] == 1
    assert job["snapshots"], "the snapshots it stored stay"


@pytest.mark.timeout(300)
def test_a_job_that_kills_its_worker_every_time_fails_after_three_attempts(
    breakable_stack: ReliabilityStack, record_property: RecordProperty
) -> None:
    stack = breakable_stack
    stack.workers_ready()
    started = time.monotonic()
    job_id = stack.submit({**SHORT_JOB, "seed": POISON_SEED})
    job = stack.wait(job_id, timeout_s=240)

    assert job["status"] == "failed"
    assert job["attempts"] == 3
    error = job["error"]
    assert error["type"] == "urn:featviz:problem:attempts-exhausted"
    assert "stopped sending heartbeats on each of 3 attempts" in error["detail"]
    record_property("seconds_to_failed", round(time.monotonic() - started, 1))
    stack.workers_ready()
