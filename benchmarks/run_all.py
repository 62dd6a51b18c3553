"""The whole performance table in one run: engine, TV, API, queue, worker memory and scaling.

    .venv/bin/python benchmarks/run_all.py [--quick] [--gpu]
        [--only engine,tv,api,queue,scaling,exemplars,cold]
        [--write docs/benchmarks.md]

Prints a markdown table (each figure with the command that reproduces it) and the targets with
pass/miss and margin, and writes them into ``docs/benchmarks.md`` between its markers (a full
run only, unless ``--write`` is given). Every comparison runs side by side in this one run;
figures are medians over several runs. ``--quick``: small sizes, one run each, for development.
``--gpu``: the engine rows on a GPU, batch sizes up to 256, with filter-iterations per second and
the share of the GPU's measured peak; it refuses to run when TensorFlow sees no GPU.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from api_latency import LoadFigures, measure_api
from cold_start import TARGET_S as COLD_TARGET_S
from cold_start import measure_cold_start
from engine_vs_seed import (
    LAYER,
    SWEEP_FILTERS,
    SWEEP_ITERATIONS,
    measure_engine,
    measure_seed,
    sweep_engine,
    sweep_seed,
)
from exemplar_fleet import measure_exemplar_fleet
from exemplars import measure_exemplars
from gpu import filter_iteration_flops, hide_gpus, matmul_peak_flops, require_gpu
from machine import machine_line
from timing import percentile
from tv_speed import TARGET as TV_TARGET
from tv_speed import measure_tv
from worker_jobs import LayerJobTiming, measure_service

from featviz_engine.models import feature_extractor

SECTIONS = ("engine", "tv", "api", "queue", "scaling", "exemplars", "cold")
DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
CPU_MARKERS = ("<!-- run_all:cpu:begin -->", "<!-- run_all:cpu:end -->")
GPU_MARKERS = ("<!-- run_all:gpu:begin -->", "<!-- run_all:gpu:end -->")
TARGET_BATCH = 16


@dataclass(frozen=True)
class Sizes:
    """How much each row measures: a full run fits in about 15 minutes on 2 CPU cores."""

    image_size: int
    engine_iterations: int  # timed iterations per run at batch 1 (fewer at larger batches)
    batches: tuple[int, ...]
    sweep_filters: int
    sweep_iterations: int
    repeats: int
    tv_batch: int
    api_connections: int
    api_requests: int
    api_max_seconds: float
    api_runs: int
    jobs: int
    layer_filters: tuple[int, ...]
    fixed_pack_size: int
    layer_pack_sizes: tuple[int, ...]
    pack_sweep_filters: int
    layer_repeats: int
    exemplar_batch: int
    exemplar_batches: int
    exemplar_fleet_images: int

    def layer_shapes(self) -> list[tuple[int, int]]:
        """(filters, pack size) of every layer job, each once."""
        shapes = [(filters, self.fixed_pack_size) for filters in self.layer_filters]
        shapes += [(self.pack_sweep_filters, pack) for pack in self.layer_pack_sizes]
        return list(dict.fromkeys(shapes))


FULL = Sizes(
    image_size=224, engine_iterations=8, batches=(1, 8, 16, 32),
    sweep_filters=SWEEP_FILTERS, sweep_iterations=SWEEP_ITERATIONS, repeats=3,
    tv_batch=16, api_connections=64, api_requests=3000, api_max_seconds=8, api_runs=3,
    jobs=50, layer_filters=(8, 16, 32), fixed_pack_size=8, layer_pack_sizes=(1, 4, 16),
    pack_sweep_filters=16, layer_repeats=2, exemplar_batch=TARGET_BATCH, exemplar_batches=4,
    exemplar_fleet_images=10_000,
)  # fmt: skip
QUICK = Sizes(
    image_size=160, engine_iterations=2, batches=(1, 2),
    sweep_filters=2, sweep_iterations=3, repeats=1,
    tv_batch=4, api_connections=16, api_requests=200, api_max_seconds=3, api_runs=1,
    jobs=4, layer_filters=(2, 4), fixed_pack_size=2, layer_pack_sizes=(1, 4),
    pack_sweep_filters=4, layer_repeats=1, exemplar_batch=2, exemplar_batches=2,
    exemplar_fleet_images=1_000,
)  # fmt: skip
GPU_BATCHES = (1, 8, 16, 32, 64, 128, 256)
GPU_QUICK_BATCHES = (1, 8)


@dataclass(frozen=True)
class Row:
    measure: str
    featviz: str
    baseline: str
    ratio: str
    runs: str
    command: str


@dataclass(frozen=True)
class Target:
    name: str
    measured: float
    limit: float
    unit: str
    higher_is_better: bool = False

    @property
    def passed(self) -> bool:
        return self.measured >= self.limit if self.higher_is_better else self.measured <= self.limit

    def line(self) -> str:
        margin = self.measured - self.limit if self.higher_is_better else self.limit - self.measured
        verdict = "pass" if self.passed else "**miss**"
        return (
            f"| {self.name} | {self.measured:.3g} {self.unit} | "
            f"{'>=' if self.higher_is_better else '<='} {self.limit:.3g} {self.unit} | "
            f"{verdict} | {margin:+.3g} {self.unit} |"
        )


@dataclass
class Report:
    rows: list[Row]
    targets: list[Target]
    notes: list[str]


def ratio(featviz: float, baseline: float) -> str:
    return f"{featviz / baseline:.2f}x"


def engine_rows(
    sizes: Sizes,
    batches: Sequence[int],
    command: str,
    report: Report,
    shown: Callable[[float], str] = lambda ms: f"{ms:.1f}",
) -> None:
    """The seed against the engine; ``shown`` formats the engine's ms per filter-iteration."""
    feature_extractor("resnet50v2", "random", LAYER)  # build the network outside every timing
    size, repeats = sizes.image_size, sizes.repeats
    seed = measure_seed(size, sizes.engine_iterations, repeats)
    runs = f"median of {repeats}"
    report.rows += [
        Row("engine: seed step (tf.function, Python int filter index), ms/iteration",
            f"{seed['step']:.1f}", "", "", runs, command),
        Row("engine: seed's scikit-image TV round trip, ms/iteration",
            f"{seed['tv']:.1f}", "", "", runs, command),
    ]  # fmt: skip
    costs = {}
    for batch in batches:
        # Bigger batches cost more per iteration: fewer timed iterations keep each run short.
        timed = max(2, sizes.engine_iterations // max(1, batch // 4))
        costs[batch] = measure_engine(size, batch, timed, repeats)
        report.rows.append(
            Row(f"engine: batch {batch} vs the seed's loop, ms per filter-iteration",
                shown(costs[batch]), f"{seed['loop']:.1f}", ratio(costs[batch], seed["loop"]),
                runs, command)
        )  # fmt: skip
    filters, iterations = sizes.sweep_filters, sizes.sweep_iterations
    seed_sweep = sweep_seed(size, filters, iterations)
    engine_sweep = sweep_engine(size, filters, iterations)
    report.rows.append(
        Row(f"engine: sweep {filters} filters x {iterations} iterations incl. tracing, s",
            f"{engine_sweep:.1f}", f"{seed_sweep:.1f}", ratio(engine_sweep, seed_sweep),
            "1 (tracing happens once)", command)
    )  # fmt: skip
    target_batch = TARGET_BATCH if TARGET_BATCH in costs else max(costs)
    report.targets.append(
        Target(f"engine at batch {target_batch}: cost per filter-iteration / the seed's",
               costs[target_batch] / seed["loop"], 0.6, "x")
    )  # fmt: skip


def gpu_engine_rows(sizes: Sizes, batches: Sequence[int], command: str, report: Report) -> None:
    device = require_gpu()
    peak = matmul_peak_flops(sizes.repeats)
    step_flops = filter_iteration_flops(sizes.image_size)
    report.notes.append(
        f"GPU: {device}; measured peak {peak / 1e12:.1f} TFLOP/s ({8192}^2 float32 matmul, "
        f"TF32 where the GPU has it); one filter-iteration is about {step_flops / 1e9:.1f} GFLOP "
        "(convolutions forward and back to the image)."
    )

    def shown(ms: float) -> str:
        per_s = 1000 / ms
        return f"{ms:.2f} ({per_s:.0f} filter-it/s, {per_s * step_flops / peak:.0%} of peak)"

    engine_rows(sizes, batches, command, report, shown)


def tv_rows(sizes: Sizes, command: str, report: Report) -> None:
    tv = measure_tv(sizes.tv_batch, sizes.repeats)
    runs = f"median of {sizes.repeats}, interleaved"
    what = f"TV, batch of {tv.batch} at 224x224x3 (seed mode)"
    report.rows += [
        Row(f"{what}: engine's kernel op vs scikit-image on the same images, ms",
            f"{tv.kernel_ms:.1f}", f"{tv.skimage_ms:.1f}", ratio(tv.kernel_ms, tv.skimage_ms),
            runs, command),
        Row(f"{what}: graph version (XLA) vs scikit-image, ms",
            f"{tv.graph_ms:.1f}", f"{tv.skimage_ms:.1f}", ratio(tv.graph_ms, tv.skimage_ms),
            runs, command),
        Row(f"{what}: engine's kernel op vs the seed's round trips (tensor, numpy, tensor), ms",
            f"{tv.kernel_ms:.1f}", f"{tv.seed_round_trip_ms:.1f}",
            ratio(tv.kernel_ms, tv.seed_round_trip_ms), runs, command),
    ]  # fmt: skip
    report.targets.append(
        Target(f"TV on a batch of {tv.batch}: engine / scikit-image",
               tv.kernel_ms / tv.skimage_ms, TV_TARGET, "x")
    )  # fmt: skip


def api_rows(sizes: Sizes, command: str, report: Report) -> None:
    api = measure_api(
        sizes.api_runs, sizes.api_requests, sizes.api_max_seconds, sizes.api_connections
    )
    get, bare, post = api.get_job, api.bare_route, api.post_job
    connections = sizes.api_connections

    def runs(figures: LoadFigures) -> str:
        return f"median of {figures.runs} x ~{figures.requests_per_run} requests"

    report.rows += [
        Row(f"API: GET /v1/jobs/{{id}} vs bare route, p50 ms ({connections} connections)",
            f"{get.p50_ms:.1f}", f"{bare.p50_ms:.1f}", ratio(get.p50_ms, bare.p50_ms),
            runs(get), command),
        Row(f"API: GET /v1/jobs/{{id}} vs bare route, p99 ms ({connections} connections)",
            f"{get.p99_ms:.1f}", f"{bare.p99_ms:.1f}", ratio(get.p99_ms, bare.p99_ms),
            runs(get), command),
        Row(f"API: GET /v1/jobs/{{id}} vs bare route, requests/s ({connections} connections)",
            f"{get.requests_per_s:.0f}", f"{bare.requests_per_s:.0f}",
            ratio(get.requests_per_s, bare.requests_per_s), runs(get), command),
        Row(f"API: POST /v1/jobs p50 / p99 ms ({connections} connections)",
            f"{post.p50_ms:.1f} / {post.p99_ms:.1f}", "", "", runs(post), command),
    ]  # fmt: skip
    report.notes.append(
        "API: each run is one load-generator process, "
        + "; ".join(f"`{figures.command}`" for figures in (get, bare, post))
        + " (with the benchmark key's Authorization header; POST sends a small job as its"
        " body; the port and job id are this run's)."
    )
    errors = get.errors + bare.errors + post.errors
    if errors:
        report.notes.append(f"API: {errors} requests failed or were answered with an error.")
    report.targets.append(Target("API GET p99 / bare route p99", get.p99_ms / bare.p99_ms, 2, "x"))


def service_rows(sizes: Sizes, sections: set[str], command: str, report: Report) -> None:
    """Queue, memory and scaling share one service: its worker has the model cached."""
    shapes = sizes.layer_shapes() if "scaling" in sections else []
    jobs = sizes.jobs if "queue" in sections else 1
    service = measure_service(jobs, shapes, sizes.layer_repeats)
    if "queue" in sections:
        series = service.series
        latency_ms = [1000 * s for s in series.submit_to_running_s]
        overhead_ms = [1000 * s for s in series.overhead_s]
        counted = f"jobs 2-{sizes.jobs}, one at a time"
        baseline_job = 10 if sizes.jobs > 10 else 1
        rss = series.resident_mib
        growth = rss[-1] / rss[baseline_job - 1] - 1
        report.rows += [
            Row("queue: submit-to-running with an idle worker, p50 / p99 ms",
                f"{percentile(latency_ms, 0.5):.0f} / {percentile(latency_ms, 0.99):.0f}", "", "",
                counted, command),
            Row("queue: per-job overhead beyond compute (model cached), p50 / p99 ms",
                f"{percentile(overhead_ms, 0.5):.0f} / {percentile(overhead_ms, 0.99):.0f}", "",
                "", counted, command),
            Row(f"worker memory: resident MiB after job {baseline_job} -> job {sizes.jobs}",
                f"{rss[baseline_job - 1]:.0f} -> {rss[-1]:.0f} ({growth:+.1%})", "", "",
                f"{sizes.jobs} jobs", command),
        ]  # fmt: skip
        report.targets += [
            Target("submit-to-running p50", percentile(latency_ms, 0.5), 100, "ms"),
            Target(f"worker memory growth, job {baseline_job} to {sizes.jobs}",
                   100 * growth, 10, "%"),
        ]  # fmt: skip
    if "scaling" in sections:
        scaling_rows(sizes, dict(zip(shapes, service.layer_jobs, strict=True)), command, report)


def scaling_rows(
    sizes: Sizes,
    timings: dict[tuple[int, int], list[LayerJobTiming]],
    command: str,
    report: Report,
) -> None:
    def median_wall(filters: int, pack_size: int) -> float:
        return statistics.median(t.wall_s for t in timings[(filters, pack_size)])

    runs = f"median of {sizes.layer_repeats}"
    for filters in sizes.layer_filters:
        wall = median_wall(filters, sizes.fixed_pack_size)
        report.rows.append(
            Row(f"scaling: layer job, {filters} filters, pack size {sizes.fixed_pack_size}: "
                "wall s (s per filter)", f"{wall:.1f} ({wall / filters:.2f})", "", "", runs,
                command)
        )  # fmt: skip
    filters = sizes.pack_sweep_filters
    per_filter = [median_wall(filters, pack) / filters for pack in sizes.layer_pack_sizes]
    smallest = per_filter[0]
    for pack, seconds in zip(sizes.layer_pack_sizes, per_filter, strict=True):
        report.rows.append(
            Row(f"scaling: layer job, {filters} filters, pack size {pack}: s per filter "
                f"vs pack size {sizes.layer_pack_sizes[0]}", f"{seconds:.2f}", f"{smallest:.2f}",
                ratio(seconds, smallest), runs, command)
        )  # fmt: skip
    steps = [later / earlier for earlier, later in pairwise(per_filter)]
    report.targets.append(
        Target("layer job s per filter, each pack size / the next smaller (largest step)",
               max(steps), 1, "x")
    )  # fmt: skip


def exemplar_rows(sizes: Sizes, command: str, report: Report) -> None:
    batch = sizes.exemplar_batch
    timing = measure_exemplars(sizes.image_size, batch, sizes.exemplar_batches, sizes.repeats)
    cost = timing.featviz_ms_per_image / timing.predict_ms_per_image
    report.rows.append(
        Row(f"exemplars: shard vs bare Keras predict, batch {batch}, ms/image",
            f"{timing.featviz_ms_per_image:.1f}", f"{timing.predict_ms_per_image:.1f}",
            f"{cost:.2f}x", f"median of {sizes.repeats} x {timing.images} images", command)
    )  # fmt: skip
    report.targets.append(
        Target(f"exemplar cost per image / bare predict (batch {batch})", cost, 1.2, "x")
    )
    # 40 shards, so that each of the two workers runs enough to show a trend.
    images = sizes.exemplar_fleet_images
    fleet = measure_exemplar_fleet(images, workers=2, image_size=32, shard_images=images // 40)
    memory = ", ".join(
        f"{worker.mib[1]:.0f} -> {worker.mib[-1]:.0f} MiB" if len(worker.mib) >= 3 else "too few"
        for worker in fleet.readings
    )
    report.rows.append(
        Row(f"exemplars: {fleet.images} generated images, {fleet.shards} shards on 2 workers: "
            "worker memory after shard 2 -> the last; top-k against one process",
            memory, "", fleet.ranking, "1", command)
    )  # fmt: skip
    report.targets += [
        Target("exemplars: worker memory growth, shard 2 to the last (largest worker)",
               100 * fleet.largest_growth, 5, "%"),
        Target("exemplars: top-k equal to the single-process reference", float(fleet.same_ranking),
               1, "", higher_is_better=True),
    ]  # fmt: skip


def cold_rows(sizes: Sizes, command: str, report: Report) -> None:
    """Fresh processes: ``featviz render`` of 16 filters at 224 px, and a worker's first job."""
    runs = sizes.repeats
    cold = measure_cold_start("resnet50v2", runs)
    first = cold["first_iteration_s"]
    report.rows += [
        Row("cold start: `featviz render`, 16 filters at 224 px, command to its first finished "
            "iteration (whole process), s", f"{first:.1f}", f"({cold['wall_s']:.1f})", "",
            f"median of {runs} processes", command),
        Row("cold start: a worker's first job, the same render, its start to its first finished "
            "iteration, s", f"{cold['worker_first_iteration_s']:.1f}", "", "",
            f"median of {runs} processes", command),
    ]  # fmt: skip
    report.targets.append(
        Target("cold start: command to its first finished iteration", first, COLD_TARGET_S, "s")
    )


def table(report: Report) -> str:
    lines = [
        "| measure | featviz | compared with | ratio | runs | command |",
        "| --- | ---: | ---: | ---: | --- | --- |",
    ]
    for row in report.rows:
        lines.append(
            f"| {row.measure} | {row.featviz} | {row.baseline} | {row.ratio} | {row.runs} | "
            f"`{row.command}` |"
        )
    if report.targets:
        lines += [
            "",
            "| target | measured | limit | result | margin |",
            "| --- | ---: | ---: | --- | ---: |",
        ]
        lines += [target.line() for target in report.targets]
    lines += ["", *report.notes]
    return "\n".join(lines).rstrip() + "\n"


def replace_between(text: str, markers: tuple[str, str], content: str) -> str:
    begin, end = markers
    if begin not in text or end not in text:
        raise SystemExit(f"run_all.py: {DOC} lacks the markers {begin} ... {end}")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}\n{content}{end}{tail}"


def section_command(section: str, argv: Sequence[str]) -> str:
    """The command that reproduces one section: this run's flags, that section only."""
    flags = [arg for arg in argv if arg in ("--quick", "--gpu")]
    return shlex.join(["benchmarks/run_all.py", *flags, "--only", section])


def run(args: argparse.Namespace, argv: Sequence[str]) -> str:
    sizes = QUICK if args.quick else FULL
    sections = set(args.only)
    report = Report([], [], [])
    began = time.monotonic()
    steps: list[tuple[str, Callable[[], None]]] = []
    if args.gpu:
        batches = GPU_QUICK_BATCHES if args.quick else GPU_BATCHES
        command = section_command("engine", argv)
        steps.append(("engine", lambda: gpu_engine_rows(sizes, batches, command, report)))
    else:
        hide_gpus()
        if "engine" in sections:
            engine_command = section_command("engine", argv)
            steps.append(
                ("engine", lambda: engine_rows(sizes, sizes.batches, engine_command, report))
            )
        if "tv" in sections:
            steps.append(("tv", lambda: tv_rows(sizes, section_command("tv", argv), report)))
        if "api" in sections:
            steps.append(("api", lambda: api_rows(sizes, section_command("api", argv), report)))
        if sections & {"queue", "scaling"}:
            names = ",".join(sorted(sections & {"queue", "scaling"}))
            service_command = section_command(names, argv)
            steps.append((names, lambda: service_rows(sizes, sections, service_command, report)))
        if "exemplars" in sections:
            exemplars_command = section_command("exemplars", argv)
            steps.append(("exemplars", lambda: exemplar_rows(sizes, exemplars_command, report)))
        if "cold" in sections:
            steps.append(("cold", lambda: cold_rows(sizes, section_command("cold", argv), report)))
    for name, step in steps:
        started = time.monotonic()
        step()
        print(f"run_all.py: {name} took {time.monotonic() - started:.0f} s", file=sys.stderr)
    header = (
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC{' (--quick)' if args.quick else ''}, "
        f"{time.monotonic() - began:.0f} s on {machine_line()}; "
        f"Python {platform.python_version()}."
    )
    return f"{header}\n\n{table(report)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one run each")
    parser.add_argument("--gpu", action="store_true", help="the engine rows on a GPU")
    parser.add_argument(
        "--only",
        type=lambda text: text.split(","),
        default=list(SECTIONS),
        help=f"comma-separated sections of {','.join(SECTIONS)} (default: all)",
    )
    parser.add_argument(
        "--write", type=Path, help="the doc to update (default: docs/benchmarks.md on full runs)"
    )
    args = parser.parse_args()
    unknown = set(args.only) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; choose from {','.join(SECTIONS)}")
    if args.gpu:
        require_gpu()  # before anything slow
    result = run(args, sys.argv[1:])
    print(result)
    write = args.write or (None if args.quick or args.only != list(SECTIONS) else DOC)
    if write is not None:
        markers = GPU_MARKERS if args.gpu else CPU_MARKERS
        write.write_text(replace_between(write.read_text(), markers, result))
        print(f"run_all.py: wrote {write}", file=sys.stderr)


if __name__ == "__main__":
    main()
