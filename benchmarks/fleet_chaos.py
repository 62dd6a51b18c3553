"""Fleet chaos run: N worker processes under random SIGKILL and SIGTERM, one Redis crash, and
every promise checked afterwards (nothing lost, stuck or stored twice, layer-job counts exact).

    python benchmarks/fleet_chaos.py [--workers 24] [--jobs 2000] [--clients 16]
        [--sweep 4,8,16,24] [--fsync everysec|always] [--write]

The workers are the real worker on the cheap engine (``tests/helpers/cheap_engine.py``: each
iteration sleeps, as a worker waiting on its GPU would), so that two dozen fit on a small machine
and what is measured is the service around the engine: the API, Redis, the claims, heartbeats,
uploads to S3 (moto's server), the reaper. Clients keep a window of jobs in flight each, on 4
keys; every tenth submission is a layer job of 8 filters in 4 packs. A worker gets SIGKILL or
SIGTERM every 1 to 3 s (at most a quarter of the fleet stopping or starting at once), and Redis
is killed (SIGKILL) once 40 % of the jobs were accepted and started again 2 s later on its
append-only file.

Prints one table row per fleet size: jobs per second, submit-to-finished p50 / p99, the reaper's
time per pass, Redis's memory, clients, commands and CPU, what the chaos did, and the violations
found (the run fails when there is one). ``--sweep`` runs several sizes with the same jobs;
``--write`` puts the table into docs/reliability.md between its markers.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# The fleet is made of test helpers (the cheap engine lives with the tests, not in the service).
sys.path.insert(0, str(ROOT))

from tests.helpers.fleet import FleetPlan, run_fleet, summary  # noqa: E402

DOC = ROOT / "docs" / "reliability.md"
MARKERS = ("<!-- fleet_chaos:begin -->", "<!-- fleet_chaos:end -->")
COLUMNS = [
    ("workers", "workers"),
    ("jobs", "jobs"),
    ("jobs/s", "jobs_per_s"),
    ("p50 / p99 s", ("p50_s", "p99_s")),
    ("reaper pass p50 / p99 ms", ("reaper_pass_ms_p50", "reaper_pass_ms_p99")),
    ("Redis memory MiB (peak)", ("redis_used_memory_mib", "redis_peak_memory_mib")),
    ("Redis clients", "redis_clients_max"),
    ("Redis commands/s", "redis_commands_per_s"),
    ("commands/job", "redis_commands_per_job"),
    ("Redis CPU", "redis_cpu_share"),
    ("SIGKILL / SIGTERM", ("sigkill", "sigterm")),
    (
        "handed back / reaped / lost, sent again / copies dropped",
        ("handed_back", "reaped", "resent", "dropped_deliveries"),
    ),
    ("outcomes", "outcomes"),
    ("violations", "violations"),
]


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def cell(figures: dict[str, Any], source: str | tuple[str, ...]) -> str:
    if isinstance(source, tuple):
        return " / ".join(str(figures[name]) for name in source)
    value = figures[source]
    if isinstance(value, dict):
        return ", ".join(f"{count} {status}" for status, count in value.items())
    return str(value)


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| " + " | ".join(title for title, _ in COLUMNS) + " |",
        "| " + " | ".join("---" for _ in COLUMNS) + " |",
    ]
    lines += ["| " + " | ".join(cell(row, source) for _, source in COLUMNS) + " |" for row in rows]
    return "\n".join(lines)


def write_doc(text: str) -> None:
    doc = DOC.read_text()
    begin, end = doc.index(MARKERS[0]), doc.index(MARKERS[1])
    DOC.write_text(doc[: begin + len(MARKERS[0])] + "\n" + text + "\n" + doc[end:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=24, choices=range(4, 25), metavar="4..24")
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--sweep", help="fleet sizes to run in turn, e.g. 4,8,16,24")
    parser.add_argument("--fsync", choices=["everysec", "always"], default="everysec")
    parser.add_argument("--write", action="store_true", help="write the table into the doc")
    args = parser.parse_args()
    # A SIGTERM (a timeout) unwinds the fleet, so that no worker or server outlives the run.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))

    sizes = [int(size) for size in args.sweep.split(",")] if args.sweep else [args.workers]
    rows, failed = [], []
    for workers in sizes:
        plan = FleetPlan(workers=workers, jobs=args.jobs, clients=args.clients, fsync=args.fsync)
        with tempfile.TemporaryDirectory(prefix="featviz-fleet-") as folder:
            started = time.monotonic()
            report = run_fleet(Path(folder), plan)
        figures = summary(report)
        rows.append(figures)
        failed += report.violations
        # Each row as it comes, so that a sweep cut short keeps what it measured.
        took_s = time.monotonic() - started
        print(f"{workers} workers, {took_s:.0f} s in all: {figures}", flush=True)
        for violation in report.violations[:20]:
            print(f"  violation: {violation}", flush=True)

    heading = (
        f"{args.jobs} jobs from {args.clients} clients on 4 keys, AOF with appendfsync "
        f"{args.fsync}; {cpu_name()}, {os.cpu_count()} cores (shared with other runs)"
    )
    text = f"{heading}\n\n{table(rows)}"
    print(text)
    if args.write:
        write_doc(text)
    if failed:
        raise SystemExit(f"{len(failed)} violations")


if __name__ == "__main__":
    main()
