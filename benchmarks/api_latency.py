"""The API's latency and throughput against a bare FastAPI route served the same way.

Both apps run under uvicorn in this process (one thread each, loopback, free ports) on top of a
private redis-server; the load comes from ``http_load.py`` in a child process. Runs of the three
loads are interleaved (GET, bare, POST, GET, bare, POST, ...) so that noise from other work on the
machine falls on all of them alike. No worker runs: the POSTed jobs stay queued.
"""

from __future__ import annotations

import json
import statistics
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
from fastapi import FastAPI
from http_load import LoadPlan, LoadResult, measure_http

from api.main import create_app
from featviz_cli.local_stack import redis_server, serving, settings_from, stack_environment

BENCH_KEY = "bench-key"
AUTH = (("Authorization", f"Bearer {BENCH_KEY}"),)
# A small job: what a caller posts does not change the API's cost much, and it stays queued.
JOB = {"weights": "random", "layer": "conv3_block1_out", "image_size": 64, "iterations": 12}
WARM_UP_REQUESTS = 200


def bare_app() -> FastAPI:
    """One route that returns a small record without touching anything: the floor."""
    app = FastAPI()

    # A plain ``def`` as the API's own routes, so both pay FastAPI's thread-pool hop.
    @app.get("/bare/{job_id}")
    def bare_job(job_id: str) -> dict[str, str]:
        return {"id": job_id, "status": "queued"}

    return app


@dataclass(frozen=True)
class LoadFigures:
    """Medians over runs of each run's p50, p99 and requests/s."""

    p50_ms: float
    p99_ms: float
    requests_per_s: float
    runs: int
    requests_per_run: int
    errors: int
    command: str

    @classmethod
    def of(cls, results: list[LoadResult], command: str) -> LoadFigures:
        def median(figure: Callable[[LoadResult], float]) -> float:
            return statistics.median(figure(result) for result in results)

        return cls(
            p50_ms=median(lambda r: r.p50_ms),
            p99_ms=median(lambda r: r.p99_ms),
            requests_per_s=median(lambda r: r.requests_per_s),
            runs=len(results),
            requests_per_run=round(median(lambda r: r.requests)),
            errors=sum(result.errors for result in results),
            command=command,
        )


@dataclass(frozen=True)
class ApiFigures:
    get_job: LoadFigures
    bare_route: LoadFigures
    post_job: LoadFigures


def shown(plan: LoadPlan, path: str) -> str:
    """The load's command line as the doc shows it: the port and job id change every run."""
    return (
        f"benchmarks/http_load.py --method {plan.method} --url http://127.0.0.1:PORT{path} "
        f"--connections {plan.connections} --requests {plan.requests} "
        f"--max-seconds {plan.max_seconds:g}"
    )


def measure_api(runs: int, requests: int, max_seconds: float, connections: int) -> ApiFigures:
    with tempfile.TemporaryDirectory(prefix="featviz-bench-api-") as folder:
        workdir = Path(folder)
        with redis_server(workdir / "redis") as redis_url:
            environment = stack_environment(
                f"{redis_url}/0",
                "featviz-bench-api",
                str(workdir / "files"),
                [BENCH_KEY],
                # The API's own limits would answer 429 to a load test; they are not measured here.
                FEATVIZ_RATE_LIMIT_PER_S="1000000",
                FEATVIZ_RATE_LIMIT_BURST="1000000",
                FEATVIZ_MAX_QUEUED_JOBS_PER_KEY="1000000",
            )
            app = create_app(settings_from(environment))
            with serving(app) as api_url, serving(bare_app()) as bare_url:
                created = httpx.post(f"{api_url}/v1/jobs", json=JOB, headers=dict(AUTH))
                created.raise_for_status()
                job_id = created.json()["id"]
                shape = LoadPlan(
                    "", connections=connections, requests=requests, max_seconds=max_seconds
                )
                plans = {
                    "get": replace(shape, url=f"{api_url}/v1/jobs/{job_id}", headers=AUTH),
                    "bare": replace(shape, url=f"{bare_url}/bare/{job_id}"),
                    "post": replace(
                        shape,
                        url=f"{api_url}/v1/jobs",
                        method="POST",
                        headers=AUTH,
                        body=json.dumps(JOB),
                    ),
                }
                for plan in plans.values():
                    # Connections, thread pools and Redis pools warm up before anything counts.
                    measure_http(replace(plan, requests=WARM_UP_REQUESTS))
                results: dict[str, list[LoadResult]] = {name: [] for name in plans}
                for _ in range(runs):
                    for name, plan in plans.items():
                        results[name].append(measure_http(plan))
    paths = {"get": "/v1/jobs/{id}", "bare": "/bare/{id}", "post": "/v1/jobs"}
    figures = {
        name: LoadFigures.of(results[name], shown(plans[name], paths[name])) for name in plans
    }
    return ApiFigures(figures["get"], figures["bare"], figures["post"])
