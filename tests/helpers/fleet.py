"""The fleet chaos run, shared by ``benchmarks/fleet_chaos.py`` and
``tests/system/test_reliability_fleet.py``.

A fleet of worker processes (``tests.helpers.poison_worker --fleet``: the real worker with the
cheap engine), the API under uvicorn (``featviz api``), moto's S3 server and a redis-server with
an append-only file, each in a process of its own. Concurrent clients submit jobs and layer jobs
on several keys and wait for them; meanwhile a chaos thread sends SIGKILL or SIGTERM to a worker
every few seconds (the pool starts a new one), and Redis is killed once and started again.

Afterwards every accepted job is checked against the promises of docs/reliability.md
(``violations``): none lost, none stuck, every object in the bucket named by a record and every
object a record names in the bucket, one object per image file, a layer job's counts exactly its
packs' outcomes, and the store's counters equal to the records' statuses. ``run_fleet`` returns
what was measured (``FleetReport``).
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis

from featviz import outbox
from featviz.records import TERMINAL_STATUSES, JobRecord
from featviz.settings import Settings, hash_api_key
from featviz.store import JobStore
from featviz.store.keys import LEASES_KEY, STATUS_COUNTS_KEY, UNCLAIMED_KEY, owner_counts_key
from featviz.store.unclaimed import RESENT_LOG
from featviz_cli.local_stack import AppendFsync, eventually, free_port, settings_from
from tests.helpers.cheap_engine import STEP_S_VARIABLE
from tests.helpers.poison_worker import FLEET_FLAG, READY_DIR_VARIABLE, REAPER_PASS_LOG
from tests.helpers.reliability_stack import (
    RELIABILITY_BUCKET,
    STORAGE_PREFIX,
    TIMINGS,
    PersistentRedis,
    StoppableS3,
    WorkerPool,
)
from tests.helpers.service_stack import service_environment

# 64 px on ResNet50V2's conv3_block1_out, as the other reliability tests; the cheap engine only
# sleeps its steps, so what a job costs is its iterations times the step.
JOB = {"weights": "random", "layer": "conv3_block1_out", "image_size": 64, "tv_start": 4}
LAYER_FILTERS = list(range(8))
"""A layer job fans out to 4 packs of 2 filters; its counts must end at exactly 8."""
KEYS = [f"fleet-key-{n}" for n in range(4)]
RETRY_S = 0.25
POLL_S = 0.5


@dataclass(frozen=True)
class FleetPlan:
    """What a run does; the defaults are the benchmark's full run."""

    workers: int = 24
    jobs: int = 2000
    """Top-level submissions, layer jobs included."""
    clients: int = 16
    keys: int = 4
    window: int = 6
    """How many of its jobs each client keeps in flight."""
    layer_every: int = 10
    """Every n-th submission of a client is a layer job."""
    chaos_every_s: tuple[float, float] = (1.0, 3.0)
    """Seconds between two signals, drawn uniformly."""
    max_down: float = 0.25
    """At most this share of the workers (at least one) is stopping or starting at a time, so
    that restarts keep up on a busy machine."""
    redis_restart_at: float = 0.4
    """When Redis is killed: once this share of the jobs was accepted."""
    redis_down_s: float = 2.0
    fsync: AppendFsync = "everysec"
    give_up_s: float = 900
    """When the clients stop waiting, counted from the start: a job not finished by then is
    reported stuck."""
    iterations: int = 40
    step_s: float = 0.05
    """One iteration of the cheap engine."""
    drain_grace_s: int = 1
    """Shorter than a job, so that a SIGTERM hands back some jobs and lets others finish."""
    seed: int = 17


@dataclass
class ChaosLog:
    sigkill: int = 0
    sigterm: int = 0
    on_busy: int = 0
    """Signals sent to a worker that held a job's lease at the time."""
    redis_down_s: float = 0.0


@dataclass
class RedisSample:
    """What INFO said at one moment: its counters start again when Redis restarts."""

    at: float
    commands: int
    cpu_s: float
    used_memory: int
    clients: int


@dataclass
class FleetReport:
    plan: FleetPlan
    accepted: dict[str, str]
    """Top-level job id -> kind (``job`` / ``layer_job``)."""
    records: dict[str, JobRecord]
    """Every record at the end, packs included."""
    wall_s: float
    chaos: ChaosLog
    restarts: int
    reaper_pass_ms: list[float]
    redis_samples: list[RedisSample]
    redis_memory: dict[str, Any]
    bucket_keys: list[str]
    counters: dict[str, Any]
    """The store's status counts at the end: ``all`` and each owner's (``owners``)."""
    max_attempts: int
    log: str
    violations: list[str] = field(default_factory=list)

    @property
    def latencies_s(self) -> list[float]:
        """Submit-to-finished of every top-level job, by the records' clock."""
        return [
            (record.finished_at - record.created_at).total_seconds()
            for job_id in self.accepted
            if (record := self.records.get(job_id)) is not None and record.finished_at
        ]

    @property
    def jobs_per_s(self) -> float:
        tops = [self.records[job_id] for job_id in self.accepted if job_id in self.records]
        first = min(record.created_at for record in tops)
        last = max(record.finished_at or record.updated_at for record in tops)
        return len(tops) / (last - first).total_seconds()

    def redis_totals(self) -> tuple[int, float, float]:
        """Commands, CPU seconds and seconds observed, summed over Redis's lifetimes."""
        commands, cpu_s, seconds = 0, 0.0, 0.0
        for before, after in zip(self.redis_samples, self.redis_samples[1:], strict=False):
            if after.commands >= before.commands:  # not across the restart
                commands += after.commands - before.commands
                cpu_s += after.cpu_s - before.cpu_s
                seconds += after.at - before.at
        return commands, cpu_s, seconds

    def outcomes(self) -> Counter[str]:
        return Counter(self.records[job_id].status for job_id in self.accepted)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class MotoProcess(StoppableS3):
    """moto's S3 server in a process of its own, so that it does not share the clients' GIL."""

    def start(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def answers() -> bool | None:
            try:
                return httpx.get(self.endpoint).status_code < 500 or None
            except httpx.TransportError:
                return None

        eventually(answers, 30, "moto's server")

    def stop(self) -> None:
        self._process.terminate()
        self._process.wait(timeout=10)


@dataclass
class Fleet:
    plan: FleetPlan
    settings: Settings
    redis: PersistentRedis
    s3: MotoProcess
    workers: WorkerPool
    api_url: str
    store: JobStore
    ready_dir: Path

    def ready_pids(self) -> set[int]:
        """Live workers that have said they are ready."""
        marked = {int(path.name) for path in self.ready_dir.iterdir()}
        return {p.pid for p in self.workers.processes if p.poll() is None} & marked


@contextmanager
def fleet(folder: Path, plan: FleetPlan) -> Iterator[Fleet]:
    """Start Redis, S3, the API and the workers; stop them all afterwards."""
    persistent_redis = PersistentRedis(folder / "redis", plan.fsync)
    persistent_redis.start()
    s3 = MotoProcess()
    processes: list[subprocess.Popen[bytes]] = []
    workers: WorkerPool | None = None
    try:
        s3.start()
        s3.client().create_bucket(Bucket=RELIABILITY_BUCKET)
        environment = service_environment(
            persistent_redis.url,
            "featviz-fleet",
            f"s3://{RELIABILITY_BUCKET}/{STORAGE_PREFIX}",
            api_keys=KEYS[: plan.keys],
            **s3.environment(),
            FEATVIZ_DRAIN_GRACE_S=str(plan.drain_grace_s),
            # Each client keeps its window in flight: the cap is for runaway clients.
            FEATVIZ_MAX_QUEUED_JOBS_PER_KEY=str(plan.clients * plan.window * plan.layer_every),
            **TIMINGS,
        )
        port = free_port()
        with (folder / "api.log").open("wb") as api_log:
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "featviz_cli", "api", "--port", str(port)],
                    env=os.environ | environment,
                    stdout=api_log,
                    stderr=subprocess.STDOUT,
                )
            )
        api_url = f"http://127.0.0.1:{port}"
        ready_dir = folder / "ready"
        ready_dir.mkdir()
        worker_environment = environment | {
            STEP_S_VARIABLE: str(plan.step_s),
            READY_DIR_VARIABLE: str(ready_dir),
        }
        workers = WorkerPool(worker_environment, folder / "workers.log", (FLEET_FLAG,))
        workers.start(plan.workers)
        settings = settings_from(environment)

        def api_ready() -> bool | None:
            try:
                return httpx.get(f"{api_url}/readyz").status_code == 200 or None
            except httpx.TransportError:
                return None

        eventually(api_ready, 180, "the API")  # beside a fleet starting on a busy machine
        workers.ready(settings, timeout_s=180)
        store = JobStore.from_url(persistent_redis.url)
        yield Fleet(plan, settings, persistent_redis, s3, workers, api_url, store, ready_dir)
    finally:
        # Redis last, and whatever stopping the others raised (a timeout): a redis-server has
        # a process group of its own, so nothing else would stop it.
        try:
            if workers is not None:
                workers.stop()
            for process in processes:
                process.terminate()
                process.wait(timeout=30)
            s3.stop()
        finally:
            persistent_redis.stop()


def job_body(plan: FleetPlan, number: int, layer: bool) -> dict[str, Any]:
    """A client's ``number``-th submission: a layer job, or a job of one filter."""
    snapshots = [2, plan.iterations // 2]
    body = {**JOB, "iterations": plan.iterations, "snapshots": snapshots, "seed": number}
    if layer:
        return body | {"filters": LAYER_FILTERS, "pack_size": 2}
    return body | {"filter": number % 64}


class Clients:
    """Closed-loop clients: each keeps ``plan.window`` of its jobs in flight, submitting the next
    once one has finished. Every submission carries an ``Idempotency-Key``, so that one retried
    after a 503 (Redis down) or a lost answer makes one job."""

    def __init__(self, running: Fleet) -> None:
        self.fleet = running
        self.accepted: dict[str, str] = {}
        self.finished = 0
        self._lock = threading.Lock()
        self._give_up_at = time.monotonic() + running.plan.give_up_s

    def waiting(self) -> bool:
        return time.monotonic() < self._give_up_at

    def _request(self, http: httpx.Client, method: str, path: str, **kwargs: Any) -> Any:
        """The answer's body, retried through 503s, 429s and dropped connections."""
        while self.waiting():
            try:
                response = http.request(method, path, **kwargs)
            except httpx.TransportError:
                time.sleep(RETRY_S)
                continue
            if response.status_code in (429, 503):
                time.sleep(min(float(response.headers.get("retry-after", RETRY_S)), 2.0))
                continue
            assert response.status_code in (200, 202), (path, response.text)
            return response.json()
        return None

    def run(self, index: int, count: int) -> None:
        plan = self.fleet.plan
        key = KEYS[index % plan.keys]
        headers = {"Authorization": f"Bearer {key}"}
        in_flight: dict[str, str] = {}
        with httpx.Client(base_url=self.fleet.api_url, headers=headers, timeout=30) as http:
            for number in range(count):
                while len(in_flight) >= plan.window:
                    self._poll(http, in_flight)
                layer = number % plan.layer_every == plan.layer_every - 1
                path = "/v1/layer-jobs" if layer else "/v1/jobs"
                body = job_body(plan, number, layer)
                idempotency = {"Idempotency-Key": f"fleet-{index}-{number}"}
                job = self._request(http, "POST", path, json=body, headers=idempotency)
                if job is None:
                    return  # gave up
                in_flight[job["id"]] = path
                with self._lock:
                    self.accepted[job["id"]] = "layer_job" if layer else "job"
            while in_flight and self.waiting():
                self._poll(http, in_flight)

    def _poll(self, http: httpx.Client, in_flight: dict[str, str]) -> None:
        time.sleep(POLL_S)
        for job_id, path in list(in_flight.items()):
            job = self._request(http, "GET", f"{path}/{job_id}")
            if job is not None and job["status"] in TERMINAL_STATUSES:
                del in_flight[job_id]
                with self._lock:
                    self.finished += 1


class Chaos:
    """Every few seconds, SIGKILL or SIGTERM (even odds) to a ready worker: two times in three
    one that holds a job's lease, else any. A signaled worker is not signaled again (a second
    SIGTERM would be Celery's cold shutdown); the pool starts a new one when it exits. A tick
    passes while ``plan.max_down`` of the workers are stopping or not yet ready."""

    def __init__(self, running: Fleet) -> None:
        self.fleet = running
        self.log = ChaosLog()
        self.random = random.Random(running.plan.seed)
        self._signaled: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos", daemon=True)

    def busy_pids(self) -> set[int]:
        try:
            store = self.fleet.store
            records = [store.get(job_id) for job_id in store.redis.zrange(LEASES_KEY, 0, -1)]
        except redis.RedisError:
            return set()
        return {
            r.worker.pid for r in records if r and r.status == "running" and r.worker is not None
        }

    def _run(self) -> None:
        while not self._stop.wait(self.random.uniform(*self.fleet.plan.chaos_every_s)):
            plan = self.fleet.plan
            ready = self.fleet.ready_pids() - self._signaled
            if plan.workers - len(ready) >= max(1, plan.max_down * plan.workers):
                continue
            busy = self.busy_pids() & ready
            pool = busy if busy and self.random.random() < 2 / 3 else ready
            if not pool:
                continue
            victim = self.random.choice(sorted(pool))
            number = self.random.choice([signal.SIGKILL, signal.SIGTERM])
            self._signaled.add(victim)
            try:
                os.kill(victim, number)
            except ProcessLookupError:
                continue
            if number == signal.SIGKILL:
                self.log.sigkill += 1
            else:
                self.log.sigterm += 1
            self.log.on_busy += victim in busy

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


class RedisWatch:
    """Samples Redis's INFO every second, and kills and restarts Redis once ``restart_when``."""

    def __init__(self, running: Fleet, restart_when: Any, chaos: ChaosLog) -> None:
        self.fleet = running
        self.restart_when = restart_when
        self.chaos = chaos
        self.samples: list[RedisSample] = []
        self.restarted = False
        self._client = redis.Redis.from_url(running.redis.url, decode_responses=True)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="redis-watch", daemon=True)

    def sample(self) -> None:
        try:
            info = self._client.info()
        except redis.RedisError:
            return
        cpu_s = float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
        self.samples.append(
            RedisSample(
                time.monotonic(),
                int(info["total_commands_processed"]),
                cpu_s,
                int(info["used_memory"]),
                int(info["connected_clients"]),
            )
        )

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            self.sample()
            if not self.restarted and self.restart_when():
                self.restarted = True
                self.sample()
                down_at = time.monotonic()
                self.fleet.redis.crash()
                time.sleep(self.fleet.plan.redis_down_s)
                self.fleet.redis.start()
                self.chaos.redis_down_s = time.monotonic() - down_at

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


def all_records(store: JobStore) -> dict[str, JobRecord]:
    """Every job record, packs included."""
    records = {}
    for key in store.redis.scan_iter(match="fv:job:*", count=1000):
        if key.count(":") != 2:
            continue  # a job's snapshots, finals, counted packs...
        record = store.get(key.split(":")[2])
        if record is not None:
            records[record.id] = record
    return records


def settle(running: Fleet, timeout_s: float = 60) -> None:
    """Wait until nothing waits: no task queued, no entry in the outbox, no lease held, no job
    waiting for a claim."""
    client = running.store.redis

    def idle() -> bool | None:
        waiting = client.llen(running.settings.queue) + client.zcard(LEASES_KEY)
        waiting += client.zcard(outbox.OUTBOX_KEY) + client.zcard(UNCLAIMED_KEY)
        return waiting == 0 or None

    eventually(idle, timeout_s, "the queue, the outbox, the leases and the unclaimed to empty")


def expected_objects(record: JobRecord, packs: list[JobRecord]) -> int:
    """How many objects a succeeded top-level job stores: per image its snapshots, its final
    when not one of them, its sheet and GIF; ``result.json``; a layer job's sheet of finals."""
    spec = record.spec
    snapshots = set(spec["snapshots"])
    per_image = len(snapshots) + (spec["iterations"] - 1 not in snapshots) + 2
    if record.kind == "layer_job":
        return sum(len(pack.spec["filters"]) for pack in packs) * per_image + 2
    return per_image + 1


def violations(report: FleetReport) -> list[str]:
    """Every broken promise, in words; empty when the run kept them all."""
    found = []
    records = report.records
    packs: dict[str, list[JobRecord]] = {}
    for record in records.values():
        if record.parent is not None:
            packs.setdefault(record.parent, []).append(record)
    for job_id, kind in report.accepted.items():
        record = records.get(job_id)
        if record is None:
            found.append(f"lost: {kind} {job_id} was accepted and has no record")
            continue
        if record.status not in ("succeeded", "failed"):
            found.append(f"stuck: {kind} {job_id} is {record.status}")
        if record.status == "failed" and (record.error is None or not record.error.detail):
            found.append(f"failed without a reason: {job_id}")
        if record.attempts > report.max_attempts:
            found.append(f"{job_id}: {record.attempts} attempts")
        if kind == "layer_job":
            found += layer_job_violations(record, packs.get(job_id, []))
    # Storage: the bucket holds exactly the objects the records name.
    named = set()
    for record in records.values():
        named |= {entry.key for entry in record.snapshots + record.finals}
        named |= set(record.files.values())
    stored = [key.removeprefix(f"{STORAGE_PREFIX}/") for key in report.bucket_keys]
    if len(stored) != len(set(stored)):
        found.append("the bucket listed a key twice")
    orphans, missing = set(stored) - named, named - set(stored)
    found += [f"orphaned object (no record names it): {key}" for key in sorted(orphans)[:20]]
    found += [f"missing object (a record names it): {key}" for key in sorted(missing)[:20]]
    per_job = Counter(key.split("/", 1)[0] for key in stored)
    for job_id in report.accepted:
        record = records.get(job_id)
        if record is not None and record.status == "succeeded":
            expected = expected_objects(record, packs.get(job_id, []))
            if per_job[job_id] != expected:
                found.append(f"{job_id}: {per_job[job_id]} objects, expected {expected}")
    found += counter_violations(report)
    return found


def layer_job_violations(record: JobRecord, packs: list[JobRecord]) -> list[str]:
    """A layer job's counts are exactly its packs' outcomes, each filter once."""
    filters = len(record.spec["filters"])
    by_status = Counter()
    for pack in packs:
        by_status[pack.status] += len(pack.spec["filters"])
    counts = record.counts
    found = []
    if counts is None or counts.total != filters:
        found.append(f"layer job {record.id}: counts {counts}, expected a total of {filters}")
    elif (counts.succeeded, counts.failed, counts.canceled) != (
        by_status["succeeded"],
        by_status["failed"],
        by_status["canceled"],
    ):
        found.append(f"layer job {record.id}: counts {counts}, its packs ended {dict(by_status)}")
    if sum(len(pack.spec["filters"]) for pack in packs) != filters:
        found.append(f"layer job {record.id}: its packs hold other filters than it asked for")
    every_pack_succeeded = record.status == "succeeded" and by_status["succeeded"] == filters
    if every_pack_succeeded and record.progress.iteration != record.progress.total:
        found.append(f"layer job {record.id}: progress {record.progress}, not all once")
    return found


def counter_violations(report: FleetReport) -> list[str]:
    """The store's status counters (``/metrics``, the per-key cap) equal the records'."""
    tops = [report.records[job_id] for job_id in report.accepted if job_id in report.records]
    actual = Counter(record.status for record in tops)
    found = []
    counted = {status: int(n) for status, n in report.counters["all"].items() if int(n)}
    if counted != dict(actual):
        found.append(f"status counts {counted}, the records say {dict(actual)}")
    for owner, owned in report.counters["owners"].items():
        mine = Counter(record.status for record in tops if record.owner == owner)
        if {status: int(n) for status, n in owned.items() if int(n)} != dict(mine):
            found.append(f"owner counts of {owner[:8]}: {owned}, the records say {dict(mine)}")
    return found


def reaper_passes(log: str) -> list[float]:
    pattern = re.escape(REAPER_PASS_LOG).replace("%\\.3f", r"([0-9.]+)")
    return [float(ms) for ms in re.findall(pattern, log)]


def run_fleet(folder: Path, plan: FleetPlan) -> FleetReport:
    """Run the plan's jobs through a fleet under chaos, then check and measure what happened."""
    with fleet(folder, plan) as running:
        clients = Clients(running)
        chaos = Chaos(running)
        watch = RedisWatch(
            running, lambda: len(clients.accepted) >= plan.redis_restart_at * plan.jobs, chaos.log
        )
        shares = [plan.jobs // plan.clients] * plan.clients
        shares[0] += plan.jobs - sum(shares)
        began = time.monotonic()
        watch.start()
        chaos.start()
        threads = [
            threading.Thread(target=clients.run, args=(index, share), name=f"client-{index}")
            for index, share in enumerate(shares)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall_s = time.monotonic() - began
        chaos.stop()
        watch.stop()
        settle(running)
        store = running.store
        memory = store.redis.info("memory")
        records = all_records(store)
        owners = {record.owner for record in records.values()}
        counters = {
            "all": store.redis.hgetall(STATUS_COUNTS_KEY),
            "owners": {owner: store.redis.hgetall(owner_counts_key(owner)) for owner in owners},
        }
        log = running.workers.log()
        report = FleetReport(
            plan=plan,
            accepted=dict(clients.accepted),
            records=records,
            wall_s=wall_s,
            chaos=chaos.log,
            restarts=running.workers.restarts,
            reaper_pass_ms=reaper_passes(log),
            redis_samples=watch.samples,
            redis_memory=memory,
            bucket_keys=running.s3.keys(f"{STORAGE_PREFIX}/"),
            counters=counters,
            max_attempts=running.settings.max_attempts,
            log=log,
        )
        report.violations = violations(report)
        if not watch.restarted:
            report.violations.append("Redis was never restarted: the run ended first")
        assert {hash_api_key(key) for key in KEYS[: plan.keys]} >= owners
        return report


def summary(report: FleetReport) -> dict[str, Any]:
    """The measures a table shows, rounded."""
    latencies = report.latencies_s
    commands, cpu_s, seconds = report.redis_totals()
    passes = report.reaper_pass_ms
    peak_memory = max(sample.used_memory for sample in report.redis_samples)
    return {
        "workers": report.plan.workers,
        "jobs": len(report.accepted),
        "outcomes": dict(report.outcomes()),
        "jobs_per_s": round(report.jobs_per_s, 2),
        "p50_s": round(statistics.median(latencies), 2),
        "p99_s": round(percentile(latencies, 0.99), 2),
        "reaper_pass_ms_p50": round(statistics.median(passes), 2) if passes else None,
        "reaper_pass_ms_p99": round(percentile(passes, 0.99), 2) if passes else None,
        "reaper_passes": len(passes),
        "redis_used_memory_mib": round(int(report.redis_memory["used_memory"]) / 2**20, 1),
        "redis_peak_memory_mib": round(peak_memory / 2**20, 1),
        "redis_clients_max": max(sample.clients for sample in report.redis_samples),
        "redis_commands_per_s": round(commands / seconds) if seconds else None,
        "redis_cpu_share": round(cpu_s / seconds, 3) if seconds else None,
        "redis_commands_per_job": round(commands / len(report.accepted)),
        "sigkill": report.chaos.sigkill,
        "sigterm": report.chaos.sigterm,
        "on_busy": report.chaos.on_busy,
        "restarts": report.restarts,
        "redis_down_s": round(report.chaos.redis_down_s, 1),
        "handed_back": report.log.count("handed back to the queue"),
        "reaped": report.log.count("lease expired; requeued"),
        "resent": report.log.count(RESENT_LOG),
        "dropped_deliveries": report.log.count(": leased (attempt")
        + report.log.count(": finished (attempt"),
        "wall_s": round(report.wall_s, 1),
        "violations": len(report.violations),
    }


def to_json(report: FleetReport) -> str:
    return json.dumps({**summary(report), "violation_list": report.violations}, indent=2)
