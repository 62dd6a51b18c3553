"""Prometheus metrics read from the job store at scrape time, so that they cover every API and
worker process: queue depth, jobs by status, and job run time."""

from __future__ import annotations

import math
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from api.services import Services


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
