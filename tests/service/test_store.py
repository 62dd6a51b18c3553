"""The Redis job store against a real redis-server: records, claims, cancels, counters, pages."""

from __future__ import annotations

import pytest

from featviz import outbox
from featviz.records import Counts, ImageEntry, WorkerInfo
from featviz.store import IdempotencyConflictError, JobStore, NewJob, new_job_id

SPEC = {"layer": "conv3_block1_out", "filter": 1}
WORKER = WorkerInfo(host="test", pid=1)


@pytest.fixture
def store(clean_redis: str) -> JobStore:
    return JobStore.from_url(clean_redis)


def new_job(owner: str = "alice", **changes: object) -> NewJob:
    fields: dict[str, object] = {"total_iterations": 12} | changes
    return NewJob(new_job_id(), "job", owner, SPEC, **fields)  # type: ignore[arg-type]


def test_create_and_read_a_record(store: JobStore) -> None:
    job = new_job()
    assert store.create([job]) == job.id
    record = store.get(job.id)
    assert record is not None
    assert (record.status, record.kind, record.owner, record.spec) == (
        "queued",
        "job",
        "alice",
        SPEC,
    )
    assert (record.progress.iteration, record.progress.total, record.attempts) == (0, 12, 0)
    assert store.get_owned(job.id, "alice") is not None
    assert store.get_owned(job.id, "bob") is None
    assert store.get("missing") is None
    assert store.status_counts()["queued"] == 1


def test_idempotency_key_replays_and_refuses_another_spec(store: JobStore) -> None:
    first = new_job()
    assert store.create([first], ("key-1", "fingerprint-a")) == first.id
    assert store.create([new_job()], ("key-1", "fingerprint-a")) == first.id
    with pytest.raises(IdempotencyConflictError):
        store.create([new_job()], ("key-1", "fingerprint-b"))
    assert store.count_owned("alice") == 1
    other = new_job(owner="bob")
    assert store.create([other], ("key-1", "fingerprint-a")) == other.id


def test_claims_count_attempts_and_fail_after_the_last(store: JobStore) -> None:
    job = new_job()
    store.create([job])
    for attempt in (1, 2, 3):
        # A lease of 0 s has expired by the next delivery, as when each worker died.
        claim = store.claim(job.id, None, WORKER, max_attempts=3, lease_s=0)
        assert (claim.outcome, claim.attempts) == ("claimed", attempt)
    record = store.get(job.id)
    assert record is not None
    assert record.status == "running"
    assert record.worker == WORKER
    assert store.claim(job.id, None, WORKER, max_attempts=3, lease_s=0).outcome == "exhausted"
    failed = store.get(job.id)
    assert failed is not None
    assert (failed.status, failed.attempts) == ("failed", 3)
    assert failed.error is not None
    assert failed.error.type.endswith("attempts-exhausted")
    # This delivery came before a reaper: the reason is the reaper's, the last worker named.
    assert "stopped sending heartbeats on each of 3 attempts" in (failed.error.detail or "")
    assert f"pid {WORKER.pid}" in (failed.error.detail or "")
    assert store.claim(job.id, None, WORKER, max_attempts=3, lease_s=0).outcome == "finished"
    assert store.status_counts() | {} == {
        "queued": 0, "running": 0, "succeeded": 0, "failed": 1, "canceled": 0,
    }  # fmt: skip


def test_a_stale_run_cannot_finish_a_job_claimed_again(store: JobStore) -> None:
    job = new_job()
    store.create([job])
    store.claim(job.id, None, WORKER, 3, lease_s=0)
    store.claim(job.id, None, WORKER, 3, lease_s=0)
    assert not store.transition(job.id, ["running"], "succeeded", attempt=1)
    assert store.transition(job.id, ["running"], "succeeded", attempt=2)
    assert not store.transition(job.id, ["running"], "failed")


def test_cancel_queued_is_immediate_and_running_is_requested(store: JobStore) -> None:
    queued, running = new_job(), new_job()
    store.create([queued])
    store.create([running])
    store.claim(running.id, None, WORKER, 3, lease_s=60)
    assert store.request_cancel(queued.id) == "canceled"
    assert store.claim(queued.id, None, WORKER, 3, lease_s=60).outcome == "finished"
    assert store.request_cancel(running.id) == "running"
    assert store.cancel_requested(running.id)
    assert not store.cancel_requested(new_job_id())
    assert store.request_cancel("missing") is None


def test_snapshots_are_keyed_so_a_rerun_overwrites_them(store: JobStore) -> None:
    job = new_job()
    store.create([job])
    entry = ImageEntry(
        filter=1, tv_weight=0.0, iteration=5, key=f"{job.id}/1/iter_0005.png",
        activation=1.0, total_variation=0.1, high_frequency_fraction=0.2,
    )  # fmt: skip
    store.add_snapshot(job.id, job.id, entry, 0)
    store.add_snapshot(job.id, job.id, entry.model_copy(update={"activation": 2.0}), 0)
    record = store.get(job.id)
    assert record is not None
    assert [s.activation for s in record.snapshots] == [2.0]


def test_a_pack_counts_on_its_layer_job_in_the_step_that_ends_it(store: JobStore) -> None:
    parent = new_job(filters=8, packs=2)
    packs = [
        NewJob(new_job_id(), "pack", "alice", {**SPEC, "filters": [0, 1, 2, 3]}, parent=parent.id)
        for _ in range(2)
    ]
    store.create([parent, *packs])
    assert store.count_owned("alice") == 1, "packs are not listed"
    assert store.get_owned(packs[0].id, "alice") is None
    finish = outbox.entry("finish", parent.id)
    for pack in packs:
        assert store.claim(pack.id, parent.id, WORKER, 3, lease_s=60).outcome == "claimed"
    assert store.transition(packs[0].id, ["running"], "succeeded")
    assert not store.transition(packs[0].id, ["running"], "succeeded"), "ends once"
    assert finish not in outbox.due(store.redis, -60)
    assert store.transition(packs[1].id, ["running"], "failed")
    assert finish in outbox.due(store.redis, -60), "the last pack asks for the finish"
    record = store.get(parent.id)
    assert record is not None
    assert record.counts == Counts(total=8, succeeded=4, failed=4, canceled=0)


def test_a_pack_canceled_with_its_layer_job_is_counted_as_canceled(store: JobStore) -> None:
    parent = new_job(filters=2, packs=1)
    pack = NewJob(new_job_id(), "pack", "alice", {**SPEC, "filters": [0, 1]}, parent=parent.id)
    store.create([parent, pack])
    store.request_cancel(parent.id)
    assert store.claim(pack.id, parent.id, WORKER, 3, lease_s=60).outcome == "canceled"
    record = store.get(parent.id)
    assert record is not None
    assert record.counts == Counts(total=2, succeeded=0, failed=0, canceled=2)
    assert outbox.entry("finish", parent.id) in outbox.due(store.redis, -60)


def test_a_rerun_pack_adds_its_progress_to_its_layer_job_once(store: JobStore) -> None:
    parent = new_job(filters=8, packs=2, total_iterations=2 * 12)
    packs = [new_job(parent=parent.id) for _ in range(2)]
    store.create([parent, *packs])
    first, second = (pack.id for pack in packs)
    assert store.record_pack_progress(parent.id, first, 7) == 7
    # The pack's worker dies; its next delivery starts again from iteration 1.
    for iteration in (1, 4, 7):
        assert store.record_pack_progress(parent.id, first, iteration) == 0
    assert store.record_pack_progress(parent.id, first, 12) == 5
    assert store.record_pack_progress(parent.id, second, 12) == 12
    record = store.get(parent.id)
    assert record is not None
    assert (record.progress.iteration, record.progress.total) == (24, 24)


def test_pages_are_newest_first_with_a_cursor(store: JobStore) -> None:
    ids = []
    for _ in range(5):
        job = new_job()
        store.create([job])
        ids.append(job.id)
    store.request_cancel(ids[1])
    page, cursor = store.list_owned("alice", limit=2)
    assert [r.id for r in page] == [ids[4], ids[3]]
    page, cursor = store.list_owned("alice", after=cursor, limit=2)
    assert [r.id for r in page] == [ids[2], ids[1]]
    page, cursor = store.list_owned("alice", after=cursor, limit=2)
    assert ([r.id for r in page], cursor) == ([ids[0]], None)
    canceled, _ = store.list_owned("alice", status="canceled")
    assert [r.id for r in canceled] == [ids[1]]
    assert store.list_owned("bob") == ([], None)


def test_duration_histogram_is_cumulative(store: JobStore) -> None:
    for seconds in (0.5, 3.0, 3.5, 7200.0):
        store.observe_duration(seconds)
    buckets, total = store.durations()
    assert dict(buckets)[1.0] == 1
    assert dict(buckets)[5.0] == 3
    assert buckets[-1] == (float("inf"), 4)
    assert total == pytest.approx(7207.0)


def test_status_filtered_pages_are_full_and_the_cursor_ends_with_them(store: JobStore) -> None:
    ids = []
    for _ in range(12):
        job = new_job()
        store.create([job])
        ids.append(job.id)
    # Two pages' worth, between queued jobs and with a queued one oldest of all: the last page
    # must say it is the last rather than lead to an empty one.
    canceled = ids[1::2]
    for job_id in canceled:
        store.request_cancel(job_id)
    pages, cursor = [], None
    while True:
        page, cursor = store.list_owned("alice", status="canceled", after=cursor, limit=3)
        pages.append([record.id for record in page])
        if cursor is None:
            break
    assert pages == [canceled[::-1][:3], canceled[::-1][3:]]
    queued, cursor = store.list_owned("alice", status="queued", limit=6)
    assert ([r.id for r in queued], cursor) == ([i for i in ids[::-1] if i not in canceled], None)
    # A job moves between the status listings as its status changes.
    assert store.claim(queued[0].id, None, WORKER, 3, lease_s=60).outcome == "claimed"
    assert [r.id for r in store.list_owned("alice", status="running")[0]] == [queued[0].id]
    assert queued[0].id not in [r.id for r in store.list_owned("alice", status="queued")[0]]
