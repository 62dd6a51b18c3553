"""Jobs through the whole service on this machine: the API and one worker process.

- A series of single-filter jobs, one at a time so that the worker is idle when each arrives:
  submit-to-running latency (the record's ``started_at`` minus ``created_at``), the overhead
  beyond compute (submit to finished, minus the engine's ``optimise_s`` from ``result.json``),
  and the worker's resident memory after every job. The first job loads the model and traces the
  step; the latency and overhead figures leave it out ("model cached").
- Layer jobs: wall time (submit to finished) for several filter counts and pack sizes. Every
  pack size is traced once beforehand by a short layer job of its own.

The service comes from ``local_service.py`` and memory readings from ``worker_memory.py``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from local_service import API_KEYS, LocalService, local_service
from worker_memory import SPEC, resident_mib

from featviz.outputs import RESULT_FILE
from featviz.records import TERMINAL_STATUSES, JobRecord
from featviz.store import JobStore

# Small jobs: the rows measure the service around the engine, not the engine itself. The queue
# rows run the very job the memory benchmark repeats.
JOB = SPEC
LAYER_JOB = {
    "weights": "random",
    "layer": "conv3_block1_out",
    "image_size": 96,
    "iterations": 30,
    "snapshots": [10],
    "tv_start": 10,
}
JOB_TIMEOUT_S = 600.0


@dataclass
class JobSeries:
    """Per job of a series, in order: seconds and resident MiB after it."""

    submit_to_running_s: list[float] = field(default_factory=list)
    overhead_s: list[float] = field(default_factory=list)
    resident_mib: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class LayerJobTiming:
    filters: int
    pack_size: int
    wall_s: float

    @property
    def per_filter_s(self) -> float:
        return self.wall_s / self.filters


class Submitter:
    """Posts jobs to the API and waits on their records in the store (the source of truth)."""

    def __init__(self, service: LocalService) -> None:
        assert service.api_url is not None, "the service runs with its API"
        self.http = httpx.Client(
            base_url=service.api_url,
            headers={"Authorization": f"Bearer {API_KEYS[0]}"},
            timeout=30,
        )
        self.store = JobStore.from_url(service.redis_url)
        self.storage_root = Path(service.environment["FEATVIZ_STORAGE_URL"])
        self.worker_pid = service.workers[0].pid

    def run(self, path: str, body: dict[str, Any]) -> JobRecord:
        """Submit and wait until the job is finished; a job that did not succeed is an error."""
        response = self.http.post(path, json=body)
        response.raise_for_status()
        job_id = response.json()["id"]
        deadline = time.monotonic() + JOB_TIMEOUT_S
        while time.monotonic() < deadline:
            record = self.store.get(job_id)
            if record is not None and record.status in TERMINAL_STATUSES:
                if record.status != "succeeded":
                    raise RuntimeError(f"job {job_id} ended {record.status}: {record.error}")
                return record
            time.sleep(0.02)
        raise TimeoutError(f"job {job_id} did not finish within {JOB_TIMEOUT_S:g} s")

    def optimise_s(self, record: JobRecord) -> float:
        result = json.loads((self.storage_root / record.files[RESULT_FILE]).read_text())
        seconds: float = result["timings"]["optimise_s"]
        return seconds

    def close(self) -> None:
        self.http.close()


def seconds_between(earlier: datetime | None, later: datetime | None) -> float:
    if earlier is None or later is None:
        raise ValueError("a finished job has both timestamps")
    return (later - earlier).total_seconds()


def job_series(submitter: Submitter, jobs: int) -> JobSeries:
    series = JobSeries()
    for number in range(jobs):
        record = submitter.run("/v1/jobs", JOB | {"filter": number % 64})
        series.resident_mib.append(resident_mib(submitter.worker_pid))
        if number == 0:
            continue  # loaded the model and traced the step
        series.submit_to_running_s.append(seconds_between(record.created_at, record.started_at))
        total = seconds_between(record.created_at, record.finished_at)
        series.overhead_s.append(total - submitter.optimise_s(record))
    return series


def layer_job_timings(
    submitter: Submitter, shapes: list[tuple[int, int]], repeats: int
) -> list[list[LayerJobTiming]]:
    """Per (filters, pack size): ``repeats`` timings, after tracing every pack size once."""
    for pack_size in sorted({pack for _, pack in shapes}):
        warm_up = LAYER_JOB | {"iterations": 2, "snapshots": [], "tv_start": 0}
        submitter.run("/v1/layer-jobs", warm_up | {"filters": list(range(pack_size)),
                                                   "pack_size": pack_size})  # fmt: skip
    timings: list[list[LayerJobTiming]] = [[] for _ in shapes]
    for _ in range(repeats):  # interleaved, so noise falls on every shape alike
        for runs, (filters, pack_size) in zip(timings, shapes, strict=True):
            body = LAYER_JOB | {"filters": list(range(filters)), "pack_size": pack_size}
            record = submitter.run("/v1/layer-jobs", body)
            wall_s = seconds_between(record.created_at, record.finished_at)
            runs.append(LayerJobTiming(filters, pack_size, wall_s))
    return timings


@dataclass(frozen=True)
class ServiceFigures:
    series: JobSeries
    layer_jobs: list[list[LayerJobTiming]]


def measure_service(
    jobs: int, layer_shapes: list[tuple[int, int]], layer_repeats: int
) -> ServiceFigures:
    with local_service(workers=1, api=True) as service:
        submitter = Submitter(service)
        try:
            series = job_series(submitter, jobs)
            layer_jobs = layer_job_timings(submitter, layer_shapes, layer_repeats)
        finally:
            submitter.close()
    return ServiceFigures(series, layer_jobs)
