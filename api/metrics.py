"""Prometheus metrics read from Redis at scrape time, so that they cover every API and worker
process: queue depth, jobs by status, job run time, and the live workers and what they serve."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import get_args

from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from api.services import Services
from featviz.capabilities import Capabilities, Device, live_workers


def worker_metrics(workers: list[Capabilities]) -> Iterator[Metric]:
    """Live workers by device, and how many have each model's weights and each precision."""
    by_device = GaugeMetricFamily("featviz_workers", "Live workers by device", labels=["device"])
    for device in get_args(Device):
        by_device.add_metric([device], sum(worker.device == device for worker in workers))
    yield by_device
    weights = GaugeMetricFamily(
        "featviz_worker_weights",
        "Live workers that have a catalog model's weights",
        labels=["model", "weights"],
    )
    pairs = sorted({(m, w) for worker in workers for m, ws in worker.models.items() for w in ws})
    for model, name in pairs:
        having = sum(name in worker.models.get(model, []) for worker in workers)
        weights.add_metric([model, name], having)
    yield weights
    precisions = GaugeMetricFamily(
        "featviz_worker_precisions", "Live workers that run a precision", labels=["precision"]
    )
    for precision in sorted({p for worker in workers for p in worker.precisions}):
        precisions.add_metric([precision], sum(precision in w.precisions for w in workers))
    yield precisions


class ServiceCollector(Collector):
    def __init__(self, services: Services) -> None:
        self.services = services

    def collect(self) -> Iterator[Metric]:
        store = self.services.store
        yield GaugeMetricFamily(
            "featviz_queue_depth",
            "Tasks waiting in the broker queue",
            value=self.services.queue.depth(store.redis),
        )
        jobs = GaugeMetricFamily("featviz_jobs", "Top-level jobs by status", labels=["status"])
        for status, count in store.status_counts().items():
            jobs.add_metric([status], count)
        yield jobs
        buckets, total = store.durations()
        yield HistogramMetricFamily(
            "featviz_job_duration_seconds",
            "Run time of finished jobs, from claim to end",
            buckets=[("+Inf" if math.isinf(b) else str(b), count) for b, count in buckets],
            sum_value=total,
        )
        yield from worker_metrics(live_workers(store.redis, self.services.settings.queue))
