"""Worker memory: N consecutive jobs on one worker process, and its resident memory (VmRSS from
/proc) after job 1, job 10 and job N. Growth from job 10 to job N should stay under 10%: after
its first jobs the worker has loaded the model and traced the step function, and holds no more.

    python benchmarks/worker_memory.py [--jobs 50]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from local_service import local_service

from featviz.queue import JobQueue
from featviz.settings import Settings
from featviz.store import JobStore, NewJob, new_job_id

OWNER = "benchmark"
SPEC = {
    "model": "resnet50v2",
    "weights": "random",
    "layer": "conv3_block1_out",
    "image_size": 64,
    "iterations": 20,
    "snapshots": [5, 10],
    "tv_start": 5,
    "tv_weight": 0.0005,
}
CHECKPOINTS = (1, 10)


def resident_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def run_one(store: JobStore, queue: JobQueue, filter_index: int) -> str:
    job_id = new_job_id()
    spec = SPEC | {"filter": filter_index}
    store.create([NewJob(job_id, "job", OWNER, spec, total_iterations=SPEC["iterations"])])
    queue.enqueue(job_id)
    while (record := store.get(job_id)) is None or record.status in ("queued", "running"):
        time.sleep(0.05)
    return record.status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=50)
    args = parser.parse_args()

    with local_service(workers=1, api=False) as service:
        settings = Settings.model_validate(
            {name.removeprefix("FEATVIZ_").lower(): value
             for name, value in service.environment.items() if name.startswith("FEATVIZ_")}
        )  # fmt: skip
        store, queue = JobStore.from_url(service.redis_url), JobQueue(settings)
        pid = service.workers[0].pid
        readings: dict[int, float] = {}
        statuses = []
        for number in range(1, args.jobs + 1):
            statuses.append(run_one(store, queue, number % 64))
            if number in CHECKPOINTS or number == args.jobs:
                readings[number] = resident_mib(pid)
        queue.close()

    failed = [s for s in statuses if s != "succeeded"]
    print(f"{args.jobs} consecutive jobs ({SPEC['iterations']} iterations, "
          f"{SPEC['image_size']} px) on one worker\n")  # fmt: skip
    print("| after job | resident memory |")
    print("| --- | --- |")
    for number, mib in readings.items():
        print(f"| {number} | {mib:.0f} MiB |")
    growth = readings[args.jobs] / readings[10] - 1
    print(f"| growth, job 10 to job {args.jobs} | {growth:+.1%} |")
    if failed:
        raise SystemExit(f"{len(failed)} jobs did not succeed: {failed[:5]}")


if __name__ == "__main__":
    main()
