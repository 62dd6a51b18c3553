"""Cold start: from the ``featviz render`` command to its first finished iteration, as a whole
process, for 16 filters at 224 px (issue 15's target: at most 8 s, median of 3), and the same
render as a worker's first job.

    .venv/bin/python benchmarks/cold_start.py [--runs 3] [--model resnet50v2]

Each run is a fresh process rendering one iteration. The target's figure runs from this
script's launch of the command to the Unix time the render records when its first iteration
finished (``first_iteration_at`` in ``result.json``'s timings); the process goes on to measure
the snapshot's activations and write the files of its 16 images, so its whole wall time is shown
too, split by ``result.json`` into ``prepare_s`` (building the network and program),
``optimise_s`` (tracing, the iteration and the snapshot's activations) and the rest (imports,
writing the files). Random weights: ImageNet weights cannot be downloaded here and do not change
the cost.

A worker's first job: a fresh process imports what ``celery -A worker.app worker`` imports
before it takes a job (``worker.tasks``: TensorFlow and the engine), then runs the job's engine
calls as ``worker.runner.execute`` does (``prepare``, ``render_pack``) on the same render; the
row is the job's start to its first finished iteration (no Celery, Redis or storage: they add
the same before and after any engine change).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from machine import machine_line

TARGET_S = 8.0
ROOT = Path(__file__).resolve().parents[1]


def command(model: str, out: Path) -> list[str]:
    return [
        sys.executable, "-m", "featviz_cli", "render", "--model", model, "--weights", "random",
        "--filters", "0-15", "--iterations", "1", "--snapshots", "0", "--image-size", "224",
        "--no-progress", "--out", str(out),
    ]  # fmt: skip


def one_run(model: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "out"
        launched_at = time.time()
        started = time.perf_counter()
        subprocess.run(command(model, out), cwd=ROOT, check=True, capture_output=True)
        wall = time.perf_counter() - started
        timings: dict[str, float] = json.loads((out / "result.json").read_text())["timings"]
    return {
        "first_iteration_s": timings["first_iteration_at"] - launched_at,
        "wall_s": wall,
        "prepare_s": timings["prepare_s"],
        "optimise_s": timings["optimise_s"],
    }


def worker_first_job(model: str) -> None:
    """In a fresh process: boot as a worker does, run one job, print its timings as JSON."""
    booting = time.perf_counter()
    import worker.tasks  # noqa: F401  (what the worker imports at boot)
    from featviz_engine.render import prepare, render_pack
    from featviz_engine.spec import RenderSpec

    booted = time.perf_counter()
    finished_first: list[float] = []

    def progress(iteration: int, objective: object) -> None:
        if not finished_first:
            finished_first.append(time.perf_counter())

    spec = RenderSpec(
        model=model, weights="random", filters=tuple(range(16)), iterations=1, snapshots=(0,)
    )
    spec, program = prepare(spec)
    render_pack(spec, program, spec.filters, (spec.tv_weight or 0.0,) * 16, on_progress=progress)
    first = finished_first[0] - booted
    print(json.dumps({"boot_s": booted - booting, "first_iteration_s": first}))


def one_worker_run(model: str) -> dict[str, float]:
    environment = os.environ | {"FEATVIZ_SIGNING_SECRET": secrets.token_urlsafe(32)}
    arguments = [sys.executable, __file__, "--model", model, "--worker-job"]
    finished = subprocess.run(
        arguments, cwd=ROOT, env=environment, check=True, capture_output=True, text=True
    )
    timings: dict[str, float] = json.loads(finished.stdout.strip().splitlines()[-1])
    return timings


def measure_cold_start(model: str, runs: int) -> dict[str, float]:
    """Medians over ``runs`` fresh processes of each: the command line's render (its first
    finished iteration, whole wall time, ``prepare_s``, ``optimise_s``), then the worker's first
    job (``worker_boot_s``, ``worker_first_iteration_s``)."""
    renders = [one_run(model) for _ in range(runs)]
    jobs = [one_worker_run(model) for _ in range(runs)]
    median = {key: statistics.median(run[key] for run in renders) for key in renders[0]}
    median["worker_boot_s"] = statistics.median(job["boot_s"] for job in jobs)
    median["worker_first_iteration_s"] = statistics.median(job["first_iteration_s"] for job in jobs)
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--model", default="resnet50v2")
    parser.add_argument("--worker-job", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker_job:
        worker_first_job(args.model)
        return
    median = measure_cold_start(args.model, args.runs)
    rest = median["wall_s"] - median["prepare_s"] - median["optimise_s"]
    first = median["first_iteration_s"]
    verdict = "PASS" if first <= TARGET_S else "MISS"
    print(f"{machine_line()}; median of {args.runs} processes.\n")
    print(f"| `python {' '.join(command(args.model, Path('OUT'))[1:])}` | s |\n| --- | ---: |")
    print(f"| **command to its first finished iteration** | **{first:.1f}** |")
    print(f"| whole process (command to exit) | {median['wall_s']:.1f} |")
    print(f"| prepare (network, program) | {median['prepare_s']:.1f} |")
    print(f"| optimise (tracing, iteration, snapshot activations) | {median['optimise_s']:.1f} |")
    print(f"| the rest (imports, writing 16 images) | {rest:.1f} |")
    print(f"\nTarget: first finished iteration <= {TARGET_S:.0f} s: **{verdict}** ({first:.1f} s).")
    print("\n| the same render as a worker's first job | s |\n| --- | ---: |")
    boot, job = median["worker_boot_s"], median["worker_first_iteration_s"]
    print(f"| worker boot (importing worker.tasks: TensorFlow, the engine) | {boot:.1f} |")
    print(f"| **first job: its start to its first finished iteration** | **{job:.1f}** |")


if __name__ == "__main__":
    main()
