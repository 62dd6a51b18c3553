"""Jobs waiting for a claim, audited so that a run task lost on the way is sent again, once,
and a task that waits in the broker is not (``featviz.store.unclaimed``). The fleet chaos run
found a job queued and never claimed twice: its task delivered to a worker that died before
claiming it, and left in the broker's unacknowledged set; its task lost by a worker killed
between the broker's pop and the transport's note of the delivery. Real redis-server, a real
kombu consumer killed by SIGKILL, the real Celery sender."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from featviz import outbox
from featviz.broker import UNACKED_KEY, stale_deliveries, waiting_tasks
from featviz.queue import RUN_JOB_TASK, JobQueue
from featviz.records import WorkerInfo
from featviz.store import JobStore, NewJob, new_job_id
from featviz.store.keys import UNCLAIMED_AUDIT_KEY
from tests.helpers.service_stack import service_environment, settings_from

QUEUE = "featviz-unclaimed"
LEASE_S = 0.2
WORKER = WorkerInfo(host="h", pid=1)
# Takes one task with a late acknowledgement, as a worker does, and dies before acting on it.
TAKE_AND_DIE = """
import os, signal, sys
from kombu import Connection
with Connection(sys.argv[1]) as connection:
    connection.SimpleQueue(sys.argv[2]).get(timeout=10)
    os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.fixture
def queue(clean_redis: str, tmp_path: Path) -> Iterator[JobQueue]:
    sender = JobQueue(settings_from(service_environment(clean_redis, QUEUE, str(tmp_path))))
    yield sender
    sender.close()


def sent(store: JobStore, queue: JobQueue) -> str:
    """A job recorded and its run task sent, as the API does."""
    job_id = new_job_id()
    store.create([NewJob(job_id, "job", "alice", {})])
    queue.dispatch(store.redis, [outbox.entry("run", job_id)])
    return job_id


@pytest.fixture
def held(clean_redis: str, queue: JobQueue) -> tuple[JobStore, str]:
    """A job whose run task a consumer took and died holding."""
    store = JobStore.from_url(clean_redis)
    job_id = sent(store, queue)
    taker = subprocess.run([sys.executable, "-c", TAKE_AND_DIE, clean_redis, QUEUE], check=False)
    assert taker.returncode == -signal.SIGKILL
    return store, job_id


def audit(store: JobStore) -> list[str]:
    """One reaper's audit: the jobs whose task it sends again."""
    due = store.unclaimed.due(LEASE_S)
    return store.unclaimed.audit(due, waiting_tasks(store.redis, QUEUE, RUN_JOB_TASK), LEASE_S)


def test_a_task_lost_after_the_brokers_pop_is_sent_again_once_past_the_lease(
    clean_redis: str, queue: JobQueue
) -> None:
    store = JobStore.from_url(clean_redis)
    lost, queued = sent(store, queue), sent(store, queue)
    # The broker's pop (of the oldest message) without its note among the deliveries.
    assert store.redis.rpop(QUEUE) is not None
    assert waiting_tasks(store.redis, QUEUE, RUN_JOB_TASK) == {queued}
    assert store.unclaimed.waiting() == [lost, queued]
    assert audit(store) == [], "not yet past the lease"

    time.sleep(LEASE_S * 1.5)
    assert audit(store) == [lost], "the queued one waits on"
    store.redis.delete(UNCLAIMED_AUDIT_KEY)  # the hold's lease, over at once
    assert audit(store) == [], "known waiting since the audit: not due again within a lease"
    time.sleep(LEASE_S * 1.5)
    assert store.unclaimed.due(LEASE_S) == [lost, queued]
    assert store.unclaimed.due(LEASE_S) == [], "one reaper audits at a time, once a lease"

    assert store.claim(lost, None, WORKER, 3, 40).outcome == "claimed"
    assert store.unclaimed.waiting() == [queued], "the claim takes it out"
    assert store.request_cancel(queued) == "canceled"
    assert store.unclaimed.waiting() == [], "and so does a final status"


def test_a_task_waiting_in_the_outbox_is_left_to_it(clean_redis: str) -> None:
    store = JobStore.from_url(clean_redis)
    job_id = new_job_id()
    store.create([NewJob(job_id, "job", "alice", {})])  # its sender died before sending
    time.sleep(LEASE_S * 1.5)
    assert audit(store) == []
    assert outbox.due(store.redis, 0) == [outbox.entry("run", job_id)]


def test_a_task_whose_worker_died_before_claiming_is_sent_again(
    held: tuple[JobStore, str],
) -> None:
    store, job_id = held
    assert (store.redis.llen(QUEUE), store.redis.hlen(UNACKED_KEY)) == (0, 1), "held, unacked"
    assert stale_deliveries(store.redis, 60) == [], "younger than the threshold"
    (delivery,) = stale_deliveries(store.redis, 0)
    assert (delivery.task, delivery.args) == (RUN_JOB_TASK, [job_id])
    assert waiting_tasks(store.redis, QUEUE, RUN_JOB_TASK) == {job_id}, "delivered: it waits"

    assert store.unclaimed.drop_delivery(job_id, delivery.tag)
    assert not store.unclaimed.drop_delivery(job_id, delivery.tag), "dropped once"
    assert (store.redis.llen(QUEUE), store.redis.hlen(UNACKED_KEY)) == (0, 0)
    assert audit(store) == [job_id], "due at once: its delivery was known stale"


def test_a_stale_delivery_of_a_claimed_job_is_dropped_not_sent_again(
    held: tuple[JobStore, str],
) -> None:
    store, job_id = held
    assert store.claim(job_id, None, WORKER, 3, 40).outcome == "claimed"
    (delivery,) = stale_deliveries(store.redis, 0)

    assert not store.unclaimed.drop_delivery(job_id, delivery.tag)
    assert (store.redis.llen(QUEUE), store.redis.hlen(UNACKED_KEY)) == (0, 0)
    assert store.unclaimed.waiting() == []
    assert store.get(job_id).status == "running"  # type: ignore[union-attr]


def test_a_job_the_reaper_requeued_is_not_sent_again_while_its_task_waits(
    held: tuple[JobStore, str],
    queue: JobQueue,
) -> None:
    store, job_id = held
    store.claim(job_id, None, WORKER, 3, 0.01)
    time.sleep(0.05)
    assert store.reap(job_id, 3).outcome == "requeued"
    assert store.expired_leases() == [], "a queued job holds no lease"
    queue.enqueue(job_id)  # what the reaper sends with its re-queue
    (delivery,) = stale_deliveries(store.redis, 0)

    assert store.unclaimed.drop_delivery(job_id, delivery.tag)
    assert audit(store) == [], "the reaper's copy waits in the queue: a second is one too many"
    assert store.redis.llen(QUEUE) == 1
