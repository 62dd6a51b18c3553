"""The fleet chaos run, small (``benchmarks/fleet_chaos.py`` runs it at full size): 6 workers on
the cheap engine, 60 jobs and layer jobs from 4 clients on 4 keys, a worker SIGKILLed or
SIGTERMed every second or two and started again, Redis killed once and started again on its
append-only file. Nothing is lost, stuck or stored twice, and every layer job's counts are
exactly its packs' outcomes."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.fleet import FleetPlan, run_fleet, summary, violations
from tests.helpers.reliability_stack import STORAGE_PREFIX

RecordProperty = Any
PLAN = FleetPlan(
    workers=6,
    jobs=60,
    clients=4,
    window=5,
    iterations=20,
    step_s=0.02,
    # Every SIGTERM hands its job back, none is finished within a grace.
    drain_grace_s=0,
    chaos_every_s=(1.0, 2.0),
    redis_restart_at=0.3,
    redis_down_s=1.0,
    give_up_s=300,
)


@pytest.mark.timeout(420)
def test_a_fleet_under_chaos_loses_sticks_and_duplicates_nothing(
    tmp_path: Path, record_property: RecordProperty
) -> None:
    report = run_fleet(tmp_path, PLAN)
    figures = summary(report)
    for name, value in figures.items():
        record_property(name, value)

    assert report.violations == []
    assert len(report.accepted) == PLAN.jobs
    layer_jobs = [kind for kind in report.accepted.values() if kind == "layer_job"]
    assert len(layer_jobs) == PLAN.clients * (PLAN.jobs // PLAN.clients // PLAN.layer_every)
    assert figures["sigkill"] + figures["sigterm"] >= 3, "a few workers were stopped"
    assert report.chaos.redis_down_s >= PLAN.redis_down_s
    assert figures["restarts"] >= 1

    # The checks find what they look for: the same run, each promise broken on purpose.
    top = next(iter(report.accepted))
    layer_job = next(job_id for job_id, kind in report.accepted.items() if kind == "layer_job")
    broken = copy.deepcopy(report)
    del broken.records[top]
    broken.bucket_keys.append(f"{STORAGE_PREFIX}/{layer_job}/filter_0099/iter_0002.png")
    counts = broken.records[layer_job].counts
    assert counts is not None
    counts.succeeded -= 1
    broken.counters["all"]["running"] = 1
    found = "\n".join(violations(broken))
    assert f"lost: {report.accepted[top]} {top} was accepted and has no record" in found
    assert f"orphaned object (no record names it): {layer_job}/filter_0099" in found
    assert f"layer job {layer_job}: counts" in found
    assert "status counts {" in found
