"""A run task delivered to a worker that dies before claiming its job (the fleet chaos run found
such a job queued, unclaimed, its task waiting in the broker's unacknowledged set for the
visibility timeout): a reaper puts the task back in the queue, once; a delivery of a job that is
claimed, or that a reaper re-queued (and sent) itself, is only dropped. Real redis-server, a real
kombu consumer killed by SIGKILL."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kombu import Connection

from featviz import outbox
from featviz.broker import UNACKED_KEY, stale_deliveries
from featviz.queue import RUN_JOB_TASK, JobQueue
from featviz.records import WorkerInfo
from featviz.store import JobStore, NewJob, new_job_id
from tests.helpers.service_stack import service_environment, settings_from

QUEUE = "featviz-redeliver"
# Takes one task with a late acknowledgement, as a worker does, and dies before acting on it.
TAKE_AND_DIE = """
import os, signal, sys
from kombu import Connection
with Connection(sys.argv[1]) as connection:
    connection.SimpleQueue(sys.argv[2]).get(timeout=10)
    os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.fixture
def sent(clean_redis: str, tmp_path: Path) -> tuple[JobStore, str]:
    """A queued job whose run task a consumer took and died holding."""
    settings = settings_from(service_environment(clean_redis, QUEUE, str(tmp_path)))
    store = JobStore.from_url(clean_redis)
    job_id = new_job_id()
    store.create([NewJob(job_id, "job", "alice", {})])
    queue = JobQueue(settings)
    queue.dispatch(store.redis, [outbox.entry("run", job_id)])
    queue.close()
    taker = subprocess.run([sys.executable, "-c", TAKE_AND_DIE, clean_redis, QUEUE], check=False)
    assert taker.returncode == -signal.SIGKILL
    assert (store.redis.llen(QUEUE), store.redis.hlen(UNACKED_KEY)) == (0, 1), "held, unacked"
    return store, job_id


def test_a_task_whose_worker_died_before_claiming_goes_back_to_the_queue(
    sent: tuple[JobStore, str], clean_redis: str
) -> None:
    store, job_id = sent
    assert stale_deliveries(store.redis, 60) == [], "younger than the threshold"
    (delivery,) = stale_deliveries(store.redis, 0)
    assert (delivery.task, delivery.args) == (RUN_JOB_TASK, [job_id])

    assert store.redeliver(job_id, delivery, QUEUE)
    assert not store.redeliver(job_id, delivery, QUEUE), "one reaper puts it back, once"
    assert (store.redis.llen(QUEUE), store.redis.hlen(UNACKED_KEY)) == (1, 0)
    with Connection(clean_redis) as connection:
        again = connection.SimpleQueue(QUEUE).get(timeout=5)
        assert again.headers["task"] == RUN_JOB_TASK
        assert json.loads(again.body)[0] == [job_id]
        again.ack()
    assert stale_deliveries(store.redis, 0) == []


def test_a_stale_delivery_of_a_claimed_job_is_dropped_not_sent_again(
    sent: tuple[JobStore, str],
) -> None:
    store, job_id = sent
    claim = store.claim(job_id, None, WorkerInfo(host="h", pid=1), 3, 40)
    assert claim.outcome == "claimed"
    (delivery,) = stale_deliveries(store.redis, 0)

    assert not store.redeliver(job_id, delivery, QUEUE)
    assert (store.redis.llen(QUEUE), store.redis.hlen(UNACKED_KEY)) == (0, 0)
    assert store.get(job_id).status == "running"  # type: ignore[union-attr]


def test_a_stale_delivery_of_a_job_the_reaper_requeued_is_dropped(
    sent: tuple[JobStore, str],
) -> None:
    store, job_id = sent
    store.claim(job_id, None, WorkerInfo(host="h", pid=1), 3, 0.01)
    time.sleep(0.05)
    assert store.reap(job_id, 40, 3).outcome == "requeued", "the reaper sent it again itself"
    (delivery,) = stale_deliveries(store.redis, 0)

    assert not store.redeliver(job_id, delivery, QUEUE), "a second copy would be one too many"
    assert (store.redis.llen(QUEUE), store.redis.hlen(UNACKED_KEY)) == (0, 0)
