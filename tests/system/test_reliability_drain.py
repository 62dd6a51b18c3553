"""Workers told to stop (SIGTERM, as Kubernetes and ``docker stop`` do): a long job is handed back
at once, without costing an attempt, and another worker finishes it; a job about to end is
finished first; a worker killed right after handing a job back loses nothing; a pack of a layer
job is handed back without touching its layer job's counts. Every stopped worker exits 0."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from featviz.queue import JobQueue
from tests.helpers.poison_worker import DIES_HANDING_BACK_SEED
from tests.helpers.reliability_stack import (
    SHORT_JOB,
    ReliabilityStack,
    referenced_keys,
    reliability_stack,
)
from tests.helpers.service_stack import eventually

RecordProperty = Any
GRACE_S = 5
# Far longer than the grace at any pace of this machine (about 30 ms an iteration), and one that
# ends within it once three quarters are done.
LONG_JOB = {**SHORT_JOB, "iterations": 1000, "snapshots": [2, 500]}
ENDING_JOB = {**SHORT_JOB, "iterations": 240, "snapshots": [2, 120]}
PICK_UP_S = 10
SETTLED = ("status", "attempts", "updated_at", "finished_at")
EXIT_S = 20
"""From SIGTERM to a worker's exit when it hands its job back: the job's next iteration, Celery's
warm shutdown, then the interpreter's and TensorFlow's teardown (seconds on a busy machine)."""


@pytest.fixture(scope="module")
def draining_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReliabilityStack]:
    """Two workers (started again when they exit) that drain with a grace of ``GRACE_S``."""
    folder = tmp_path_factory.mktemp("drain")
    with reliability_stack(folder, FEATVIZ_DRAIN_GRACE_S=str(GRACE_S)) as stack:
        stack.workers_ready()
        yield stack


def stop_worker_running(stack: ReliabilityStack, job: dict[str, Any]) -> subprocess.Popen[bytes]:
    return stack.workers.signal(job["worker"]["pid"], signal.SIGTERM)


@dataclass(frozen=True)
class Stopped:
    """A job whose worker was sent SIGTERM while it ran, and when."""

    job_id: str
    victim: int
    worker: subprocess.Popen[bytes]
    at: float


def stop_mid_job(stack: ReliabilityStack, body: dict[str, Any]) -> Stopped:
    """Submit a job and stop its worker once the job has stored a snapshot."""
    stack.workers_ready()
    job_id = stack.submit(body)
    running = stack.running(job_id)
    worker = stop_worker_running(stack, running)
    return Stopped(job_id, running["worker"]["pid"], worker, time.monotonic())


def picked_up_elsewhere(stack: ReliabilityStack, stopped: Stopped) -> dict[str, Any]:
    """The job once a worker other than the stopped one runs it."""

    def elsewhere() -> dict[str, Any] | None:
        job = stack.job(stopped.job_id)
        worker = job["worker"]
        moved = job["status"] != "queued" and worker["pid"] != stopped.victim
        return job if moved else None

    return eventually(elsewhere, 60, f"another worker to take job {stopped.job_id}")


def assert_ran_twice_stored_once(stack: ReliabilityStack, job: dict[str, Any]) -> None:
    """Two runs, one attempt counted, no duplicate delivery; every snapshot asked for, one object
    each."""
    job_id = job["id"]
    assert job["status"] == "succeeded", job["error"]
    assert job["attempts"] == 1, "the hand-back did not count as an attempt"
    log = stack.workers.log()
    assert f"job {job_id}: handed back to the queue" in log
    assert log.count(f"job {job_id}: claimed (attempt 1)") == 2
    assert f"job {job_id}: leased" not in log, "no duplicate delivery"
    assert {image["iteration"] for image in job["snapshots"]} == set(job["spec"]["snapshots"])
    assert sorted(stack.stored_keys(job_id)) == sorted(referenced_keys(job)), "one object per key"


def assert_broker_and_outbox_empty(stack: ReliabilityStack) -> None:
    """Nothing waits or runs: the stopped worker's delivery was acknowledged, not left to be
    given out again."""
    broker = stack.store.redis

    def settled() -> bool | None:
        idle = broker.llen(stack.settings.queue) == 0 and broker.hlen("unacked") == 0
        return (idle and broker.zcard("fv:outbox") == 0) or None

    eventually(settled, 10, "the broker and the outbox to hold nothing")


def test_a_stopped_worker_hands_a_long_job_back_and_another_worker_finishes_it(
    draining_stack: ReliabilityStack, record_property: RecordProperty
) -> None:
    stack = draining_stack
    stopped = stop_mid_job(stack, LONG_JOB)

    rerun = picked_up_elsewhere(stack, stopped)
    picked_up_s = time.monotonic() - stopped.at
    assert picked_up_s < PICK_UP_S
    assert rerun["attempts"] == 1
    assert stopped.worker.wait(timeout=EXIT_S) == 0
    exited_s = time.monotonic() - stopped.at
    job = stack.wait(stopped.job_id)
    assert_ran_twice_stored_once(stack, job)
    assert_broker_and_outbox_empty(stack)
    record_property("exit_s_after_sigterm", round(exited_s, 2))
    record_property("picked_up_s_after_sigterm", round(picked_up_s, 2))


def test_a_stopped_worker_finishes_a_job_about_to_end_then_exits(
    draining_stack: ReliabilityStack, record_property: RecordProperty
) -> None:
    stack = draining_stack
    stack.workers_ready()
    job_id = stack.submit(ENDING_JOB)

    def three_quarters_done() -> dict[str, Any] | None:
        job = stack.job(job_id)
        progress = job["progress"]
        return job if progress["iteration"] >= 3 * progress["total"] // 4 else None

    running = eventually(three_quarters_done, 120, "the job to be three quarters done")
    worker = stop_worker_running(stack, running)
    stopped = time.monotonic()

    assert worker.wait(timeout=GRACE_S + EXIT_S) == 0
    exited_s = time.monotonic() - stopped
    job = stack.job(job_id)
    assert job["status"] == "succeeded", "finished before the worker exited"
    assert (job["attempts"], job["worker"]["pid"]) == (1, running["worker"]["pid"])
    log = stack.workers.log()
    assert f"job {job_id}: finished within the drain's grace" in log, "the drain saw it running"
    assert f"job {job_id}: handed back" not in log
    assert sorted(stack.stored_keys(job_id)) == sorted(referenced_keys(job))
    record_property("exit_s_after_sigterm", round(exited_s, 2))


def test_a_worker_killed_right_after_handing_a_job_back_loses_nothing(
    draining_stack: ReliabilityStack, record_property: RecordProperty
) -> None:
    stack = draining_stack
    stopped = stop_mid_job(stack, {**LONG_JOB, "seed": DIES_HANDING_BACK_SEED})
    job_id = stopped.job_id

    assert stopped.worker.wait(timeout=EXIT_S) == -signal.SIGKILL, "died before sending the task"
    handed = stack.job(job_id)
    assert (handed["status"], handed["attempts"]) == ("queued", 0), "queued, the attempt undone"
    # Only the outbox knows the job now: the reaper of the other worker sends it.
    rerun = picked_up_elsewhere(stack, stopped)
    picked_up_s = time.monotonic() - stopped.at
    assert picked_up_s < stack.settings.outbox_grace_s + PICK_UP_S
    assert f"run:{job_id}: recorded but never sent; sending it now" in stack.workers.log()
    assert rerun["attempts"] == 1
    job = stack.wait(job_id)
    assert_ran_twice_stored_once(stack, job)
    # The dead worker's delivery was never acknowledged: the broker gives it out again after its
    # visibility timeout (hours). Delivered now, it finds the job over and does nothing.
    queue = JobQueue(stack.settings)
    queue.enqueue(job_id)
    queue.close()
    refused = f"job {job_id}: finished (attempt"
    eventually(lambda: refused in stack.workers.log() or None, 30, "the copy to be refused")
    after = stack.job(job_id)
    assert [after[name] for name in SETTLED] == [job[name] for name in SETTLED]
    record_property("picked_up_s_after_sigterm", round(picked_up_s, 2))


def packs_of(stack: ReliabilityStack, layer_job_id: str) -> list[dict[str, Any]]:
    """The pack records of a layer job (the API shows none), read from the store."""
    records = []
    for key in stack.store.redis.scan_iter(match="fv:job:*", count=1000):
        if key.count(":") != 2:
            continue  # a job's snapshots, finals, counted packs...
        record = stack.store.get(key.split(":")[2])
        if record is not None and record.parent == layer_job_id:
            records.append(record.model_dump(mode="json"))
    return records


def test_a_pack_handed_back_leaves_its_layer_jobs_counts_alone(
    draining_stack: ReliabilityStack, record_property: RecordProperty
) -> None:
    stack = draining_stack
    stack.workers_ready()
    body = {**LONG_JOB, "filters": [0, 1], "pack_size": 1}
    created = stack.client.post("/v1/layer-jobs", json=body, headers=stack.auth())
    assert created.status_code == 202, created.text
    layer_job_id = created.json()["id"]

    def a_pack_running() -> dict[str, Any] | None:
        running = [pack for pack in packs_of(stack, layer_job_id) if pack["snapshots"]]
        return running[0] if running and running[0]["status"] == "running" else None

    pack = eventually(a_pack_running, 120, "a pack to run")
    worker = stop_worker_running(stack, pack)
    assert worker.wait(timeout=GRACE_S + EXIT_S) == 0
    layer_job = stack.client.get(f"/v1/layer-jobs/{layer_job_id}", headers=stack.auth()).json()
    assert layer_job["status"] == "running"
    assert layer_job["counts"] == {"total": 2, "succeeded": 0, "failed": 0, "canceled": 0}
    handed = stack.store.get(pack["id"])
    assert handed is not None
    assert handed.attempts <= 1, "queued with 0 attempts, or taken again by another worker"

    done = stack.wait(layer_job_id, timeout_s=180)
    assert done["status"] == "succeeded", done["error"]
    assert done["counts"] == {"total": 2, "succeeded": 2, "failed": 0, "canceled": 0}
    assert done["progress"]["iteration"] == done["progress"]["total"], "no iteration counted twice"
    assert all(pack["attempts"] == 1 for pack in packs_of(stack, layer_job_id))
    assert f"job {pack['id']}: handed back to the queue" in stack.workers.log()
    record_property("packs", 2)
