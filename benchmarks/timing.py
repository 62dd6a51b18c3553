"""Robust figures from noisy timings: medians of repeated runs and percentiles of samples."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Mapping, Sequence


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    """The median wall time of ``repeats`` calls of ``run``."""
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def interleaved_medians(
    runs: Mapping[str, Callable[[], object]],
    repeats: int,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, float]:
    """The median time of each run over ``repeats`` rounds, every round calling each run once
    in turn: on a shared machine a busy spell slows all of them alike. ``clock``: wall time by
    default; ``time.process_time`` counts the CPU time of all this process's threads, which an
    oversubscribed machine inflates far less than the wall time."""
    timings: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            started = clock()
            run()
            timings[name].append(clock() - started)
    return {name: statistics.median(samples) for name, samples in timings.items()}


def percentile(samples: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (``share`` in (0, 1]): a value that was actually observed,
    so a p99 of fewer than 100 samples is honestly their maximum."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]
