"""Leases, heartbeats, reaping and the per-key queue cap in the job store, against a real
redis-server."""

from __future__ import annotations

import time

import pytest

from featviz import outbox
from featviz.records import WorkerInfo
from featviz.store import JobStore, NewJob, QueueFullError, new_job_id

SPEC = {"layer": "conv3_block1_out", "filter": 1}
FIRST = WorkerInfo(host="test", pid=1)
SECOND = WorkerInfo(host="test", pid=2)
SHORT_LEASE_S = 0.2


@pytest.fixture
def store(clean_redis: str) -> JobStore:
    return JobStore.from_url(clean_redis)


def queued_job(store: JobStore, owner: str = "alice") -> str:
    job = NewJob(new_job_id(), "job", owner, SPEC, total_iterations=12)
    store.create([job])
    return job.id


def test_a_second_delivery_under_a_live_lease_does_not_run(store: JobStore) -> None:
    job_id = queued_job(store)
    assert store.claim(job_id, None, FIRST, 3, lease_s=60).outcome == "claimed"
    duplicate = store.claim(job_id, None, SECOND, 3, lease_s=60)
    assert (duplicate.outcome, duplicate.attempts) == ("leased", 1)
    record = store.get(job_id)
    assert record is not None
    assert (record.attempts, record.worker) == (1, FIRST)
    assert record.heartbeat_at is not None


def test_heartbeats_keep_a_lease_and_a_stale_attempt_loses_it(store: JobStore) -> None:
    job_id = queued_job(store)
    store.claim(job_id, None, FIRST, 3, lease_s=SHORT_LEASE_S)
    for _ in range(3):
        time.sleep(SHORT_LEASE_S / 2)
        assert store.heartbeat(job_id, attempt=1, lease_s=SHORT_LEASE_S)
    assert store.expired_leases() == []
    time.sleep(SHORT_LEASE_S * 1.5)
    assert store.expired_leases() == [job_id]
    assert store.claim(job_id, None, SECOND, 3, lease_s=60).outcome == "claimed"
    assert not store.heartbeat(job_id, attempt=1, lease_s=60), "attempt 2 holds the job now"
    assert store.heartbeat(job_id, attempt=2, lease_s=60)


def test_reaping_requeues_then_fails_after_the_last_attempt(store: JobStore) -> None:
    job_id = queued_job(store)
    for attempt in (1, 2, 3):
        assert store.claim(job_id, None, FIRST, 3, lease_s=SHORT_LEASE_S).attempts == attempt
        assert store.reap(job_id, 3).outcome == "alive"
        time.sleep(SHORT_LEASE_S * 1.5)
        expected = "requeued" if attempt < 3 else "failed"
        assert store.reap(job_id, 3).outcome == expected
    record = store.get(job_id)
    assert record is not None
    assert (record.status, record.attempts) == ("failed", 3)
    assert record.error is not None
    assert record.error.type == "urn:featviz:problem:attempts-exhausted"
    assert "stopped sending heartbeats on each of 3 attempts" in (record.error.detail or "")
    assert "pid 1" in (record.error.detail or "")
    assert store.expired_leases() == []
    assert store.status_counts()["failed"] == 1
    assert store.status_counts()["running"] == store.status_counts()["queued"] == 0


def test_a_reaped_job_asked_to_stop_is_canceled(store: JobStore) -> None:
    job_id = queued_job(store)
    store.claim(job_id, None, FIRST, 3, lease_s=SHORT_LEASE_S)
    assert store.request_cancel(job_id) == "running"
    time.sleep(SHORT_LEASE_S * 1.5)
    assert store.reap(job_id, 3).outcome == "canceled"
    record = store.get(job_id)
    assert record is not None
    assert (record.status, record.attempts) == ("canceled", 1)


def test_finishing_a_job_drops_its_lease(store: JobStore) -> None:
    job_id = queued_job(store)
    store.claim(job_id, None, FIRST, 3, lease_s=SHORT_LEASE_S)
    assert store.transition(job_id, ["running"], "succeeded", attempt=1)
    time.sleep(SHORT_LEASE_S * 1.5)
    assert store.expired_leases() == []
    assert not store.heartbeat(job_id, attempt=1, lease_s=60)


def sent_job(store: JobStore) -> str:
    """A queued job whose task was sent (its outbox entry cleared)."""
    job_id = queued_job(store)
    outbox.sent(store.redis, [outbox.entry("run", job_id)])
    return job_id


def test_a_handed_back_job_is_queued_again_without_the_attempt_and_its_task_in_the_outbox(
    store: JobStore,
) -> None:
    job_id = sent_job(store)
    store.claim(job_id, None, FIRST, 3, lease_s=SHORT_LEASE_S)
    assert store.hand_back(job_id, attempt=1)
    record = store.get(job_id)
    assert record is not None
    assert (record.status, record.attempts) == ("queued", 0)
    assert store.status_counts()["running"] == 0
    assert store.queued_owned("alice") == 1
    time.sleep(SHORT_LEASE_S * 1.5)
    assert store.expired_leases() == [], "its lease went with it: no reaper re-queues it"
    assert outbox.due(store.redis, older_than_s=0) == [outbox.entry("run", job_id)]
    assert not store.heartbeat(job_id, attempt=1, lease_s=60), "the handed-back run stops"
    rerun = store.claim(job_id, None, SECOND, 3, lease_s=60)
    assert (rerun.outcome, rerun.attempts) == ("claimed", 1)


def test_an_attempt_that_lost_its_job_cannot_hand_it_back(store: JobStore) -> None:
    job_id = sent_job(store)
    store.claim(job_id, None, FIRST, 3, lease_s=SHORT_LEASE_S)
    time.sleep(SHORT_LEASE_S * 1.5)
    assert store.reap(job_id, 3).outcome == "requeued"
    store.claim(job_id, None, SECOND, 3, lease_s=60)
    assert not store.hand_back(job_id, attempt=1)
    assert store.transition(job_id, ["running"], "succeeded", attempt=2)
    assert not store.hand_back(job_id, attempt=2), "nor can a finished job be handed back"
    record = store.get(job_id)
    assert record is not None
    assert (record.status, record.attempts) == ("succeeded", 2)
    assert outbox.due(store.redis, older_than_s=0) == []


def test_queued_jobs_are_capped_per_owner(store: JobStore) -> None:
    def create(owner: str) -> str:
        job = NewJob(new_job_id(), "job", owner, SPEC, total_iterations=12)
        return store.create([job], max_queued=2)

    first = create("alice")
    create("alice")
    with pytest.raises(QueueFullError):
        create("alice")
    assert create("bob"), "the cap is per owner"
    store.claim(first, None, FIRST, 3, lease_s=60)
    assert store.queued_owned("alice") == 1
    assert create("alice"), "a job that started frees its place"
