"""A run task lost on its way to a worker is sent again by a reaper's audit, and the job runs
once; a job waiting behind a backlog is not sent again while its task waits in the queue
(``featviz.store.unclaimed``). The fleet chaos run found a pack queued for good: its task popped
by a worker killed before the broker noted the delivery. Real redis-server, the real Celery
sender, a real worker process (on the cheap engine, which starts in a second) with a short
lease."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from api.submit import plan_jobs
from featviz import outbox
from featviz.queue import JobQueue
from featviz.records import JobRecord, Status
from featviz.specs import JobSpec
from featviz.store import JobStore
from featviz.store.unclaimed import RESENT_LOG
from featviz_cli.local_stack import eventually, settings_from
from tests.helpers.cheap_engine import STEP_S_VARIABLE
from tests.helpers.poison_worker import FLEET_FLAG, READY_DIR_VARIABLE
from tests.helpers.reliability_stack import TIMINGS, WorkerPool
from tests.helpers.service_stack import service_environment

QUEUE = "featviz-unclaimed"
LEASE_S = 2.0
STEP_S = 0.1
ITERATIONS = 6
"""0.6 s a job."""
BACKLOG = 12
"""7.2 s of jobs, 3.6 leases: some run before the dead worker's lease expires."""
SPEC = {
    "weights": "random",
    "layer": "conv3_block1_out",
    "image_size": 64,
    "iterations": ITERATIONS,
    "snapshots": [],
    "tv_start": 4,
}


class Service:
    """One worker (started on demand, and again when it dies), its store and a sender."""

    def __init__(self, environment: dict[str, str], folder: Path) -> None:
        self.settings = settings_from(environment)
        self.store = JobStore.from_url(self.settings.redis_url)
        self.queue = JobQueue(self.settings)
        self.workers = WorkerPool(environment, folder / "workers.log", (FLEET_FLAG,))

    def start_worker(self) -> None:
        if not self.workers.processes:
            self.workers.start(1)
            self.workers.ready(self.settings, timeout_s=120)

    def submit(self, seed: int) -> str:
        """Record a job and send its task, as the API does."""
        spec = JobSpec.model_validate({**SPEC, "filter": seed % 64, "seed": seed})
        jobs = plan_jobs("job", spec, "alice", self.settings)
        job_id = self.store.create(jobs)
        self.queue.dispatch(self.store.redis, [outbox.entry("run", job_id)])
        return job_id

    def wait_for(self, job_id: str, statuses: set[Status], timeout_s: float = 60) -> JobRecord:
        def reached() -> JobRecord | None:
            record = self.store.get(job_id)
            return record if record is not None and record.status in statuses else None

        found: JobRecord = eventually(reached, timeout_s, f"job {job_id} {statuses}")
        return found

    def log_lines(self, job_id: str) -> list[str]:
        return [line for line in self.workers.log().splitlines() if job_id in line]

    def claims(self, job_id: str) -> list[str]:
        """What each delivery's claim of the job found (``claimed``, ``leased``...)."""
        return re.findall(rf"job {job_id}: (\w+) \(attempt", self.workers.log())


@pytest.fixture(scope="module")
def service(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    folder = tmp_path_factory.mktemp("unclaimed")
    url = f"{redis_url}/5"
    redis.Redis.from_url(url).flushdb()
    (folder / "ready").mkdir()
    timings = TIMINGS | {
        "FEATVIZ_LEASE_S": str(LEASE_S),
        "FEATVIZ_HEARTBEAT_INTERVAL_S": "0.5",
        "FEATVIZ_REAPER_INTERVAL_S": "0.25",
    }
    environment = service_environment(
        url,
        QUEUE,
        str(folder / "files"),
        **timings,
        **{STEP_S_VARIABLE: str(STEP_S), READY_DIR_VARIABLE: str(folder / "ready")},
    )
    running = Service(environment, folder)
    try:
        yield running
    finally:
        running.workers.stop()
        running.queue.close()
        redis.Redis.from_url(url).flushdb()


@pytest.mark.timeout(120)
def test_a_task_lost_after_the_brokers_pop_is_sent_again_and_runs_once(service: Service) -> None:
    job_id = service.submit(seed=1)
    # No worker consumes yet: the message is popped and lost, as by a worker SIGKILLed between
    # the broker's pop and the transport's note of the delivery.
    assert service.store.redis.rpop(QUEUE) is not None
    assert service.store.redis.llen(QUEUE) == 0
    service.start_worker()

    record = service.wait_for(job_id, {"succeeded", "failed"})
    assert (record.status, record.attempts) == ("succeeded", 1)
    lines = service.log_lines(job_id)
    assert sum(RESENT_LOG in line for line in lines) == 1, "sent again once"
    assert service.claims(job_id) == ["claimed"], "delivered once, run once"
    assert service.store.unclaimed.waiting() == []


@pytest.mark.timeout(120)
def test_a_job_requeued_behind_a_backlog_is_not_sent_again_while_it_waits(
    service: Service, record_property: Callable[[str, object], None]
) -> None:
    service.start_worker()
    victim = service.submit(seed=100)
    backlog = [service.submit(seed=101 + n) for n in range(BACKLOG)]
    running = service.wait_for(victim, {"running"})
    assert running.worker is not None
    os.kill(running.worker.pid, signal.SIGKILL)  # the pool starts another worker
    # The new worker's reaper re-queues the victim once its lease expires: behind the backlog.
    service.wait_for(victim, {"queued"})
    requeued_at = time.monotonic()
    service.wait_for(victim, {"running", "succeeded"})
    waited_s = time.monotonic() - requeued_at
    record_property("waited_s", round(waited_s, 1))
    assert waited_s > 2 * LEASE_S, "it waited long enough to have been sent again twice before"

    for job_id in backlog:
        assert service.wait_for(job_id, {"succeeded", "failed"}).status == "succeeded"
    record = service.wait_for(victim, {"succeeded", "failed"})
    assert (record.status, record.attempts) == ("succeeded", 2)
    lines = service.log_lines(victim)
    assert sum("lease expired; requeued" in line for line in lines) == 1
    assert not any(RESENT_LOG in line for line in lines), "its task waited in the queue"
    assert service.claims(victim) == ["claimed", "claimed"], "no copy of it was sent"
    for job_id in backlog:
        assert service.claims(job_id) == ["claimed"]
    assert service.store.unclaimed.waiting() == []
