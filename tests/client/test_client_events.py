"""``Job.wait()`` follows the job's live events: one stream and one final read instead of polls,
progress on the bar, a timeout while the stream is quiet; and polling where the events are
refused."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.main import create_app
from featviz_client import Client, WaitTimeoutError
from tests.helpers.client_servers import LossyProxy
from tests.helpers.service_stack import API_KEY, service_environment, serving, settings_from

TINY: dict[str, Any] = {
    "weights": "random",
    "layer": "conv3_block1_out",
    "filter": 6,
    "image_size": 64,
    "iterations": 12,
    "snapshots": [5],
}


class Recording(httpx.HTTPTransport):
    """An HTTP transport that notes each request's method and path."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[tuple[str, str]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((request.method, request.url.path))
        return super().handle_request(request)


@pytest.fixture
def queue_only(clean_redis: str) -> Iterator[str]:
    """The API with no worker (jobs stay queued) and quick heartbeats."""
    environment = service_environment(clean_redis, "featviz-client-events", "unused-storage")
    environment["FEATVIZ_EVENTS_HEARTBEAT_S"] = "0.2"
    with serving(create_app(settings_from(environment))) as url:
        yield url


def test_wait_follows_the_events_and_reads_the_record_once(
    api_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    transport = Recording()
    with Client(api_url, API_KEY, transport=transport) as client:
        job = client.submit(**TINY).wait(timeout=120, progress=True)
    assert job.status == "succeeded", job.error
    assert transport.requests == [
        ("POST", "/v1/jobs"),
        ("GET", f"/v1/jobs/{job.id}/events"),
        ("GET", f"/v1/jobs/{job.id}"),
    ]
    assert "12/12" in capsys.readouterr().err, "the bar moved with the progress events"


def test_wait_polls_where_the_events_are_refused(api_url: str) -> None:
    proxy = LossyProxy(api_url, losses=0, refused_suffix="/events")
    with serving(proxy.app()) as url, Client(url, API_KEY) as client:
        job = client.submit(**TINY).wait(timeout=120, poll_interval=0.1)
    assert job.status == "succeeded", job.error
    assert proxy.paths.count(("GET", f"/v1/jobs/{job.id}/events")) == 1
    assert proxy.paths.count(("GET", f"/v1/jobs/{job.id}")) >= 2, "it polled instead"


def test_wait_gives_up_on_time_while_the_stream_stays_quiet(queue_only: str) -> None:
    with Client(queue_only, API_KEY) as client:
        job = client.submit(**TINY)
        started = time.monotonic()
        with pytest.raises(WaitTimeoutError, match="still queued"):
            job.wait(timeout=1.0)
        assert time.monotonic() - started < 5
        job.cancel()
        assert job.wait(timeout=10).status == "canceled"
