"""A job's live events (``GET /v1/jobs/{id}/events``) over real HTTP: their order, heartbeats,
resuming with Last-Event-ID, the end after the last event, and who may read them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from httpx_sse import ServerSentEvent, connect_sse

from api.main import create_app
from tests.helpers.service_stack import (
    API_KEY,
    OTHER_API_KEY,
    service_environment,
    serving,
    settings_from,
)

SPEC: dict[str, Any] = {
    "weights": "random",
    "layer": "conv3_block1_out",
    "filter": 2,
    "iterations": 12,
    "snapshots": [4, 8],
    "image_size": 64,
}


def auth(key: str = API_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def events(http: httpx.Client, url: str, **headers: str) -> Iterator[ServerSentEvent]:
    """A stream's events, heartbeats left out, until it ends."""
    with connect_sse(http, "GET", url, headers=headers) as source:
        for event in source.iter_sse():
            if event.event != "heartbeat":
                yield event


@pytest.fixture
def queue_only(clean_redis: str) -> Iterator[httpx.Client]:
    """The API over HTTP with no worker: jobs stay queued until canceled; heartbeats are quick."""
    environment = service_environment(clean_redis, "featviz-events", "unused-storage")
    environment["FEATVIZ_EVENTS_HEARTBEAT_S"] = "0.2"
    with (
        serving(create_app(settings_from(environment))) as url,
        httpx.Client(base_url=url, headers=auth(), timeout=10) as http,
    ):
        yield http


def test_a_queued_job_has_heartbeats_and_its_cancel_ends_the_stream(
    queue_only: httpx.Client,
) -> None:
    job = queue_only.post("/v1/jobs", json=SPEC).json()
    path = f"/v1/jobs/{job['id']}/events"
    with connect_sse(queue_only, "GET", path) as source:
        stream = source.iter_sse()
        queued = next(stream)
        assert (queued.event, queued.json()) == ("status", {"status": "queued"})
        heartbeat = next(stream)
        assert (heartbeat.event, heartbeat.data) == ("heartbeat", "")
        assert queue_only.post(f"/v1/jobs/{job['id']}/cancel").status_code == 202
        while (last := next(stream)).event == "heartbeat":
            pass
        assert (last.event, last.json()) == ("canceled", {"status": "canceled"})
        assert list(stream) == [], "the stream ends after the job's last event"
    # A finished job's stream replays what it kept, and resumes after Last-Event-ID.
    replayed = list(events(queue_only, path))
    assert [(e.id, e.event) for e in replayed] == [(queued.id, "status"), (last.id, "canceled")]
    resumed = list(events(queue_only, path, **{"Last-Event-ID": queued.id}))
    assert [e.id for e in resumed] == [last.id]


def test_the_signed_events_url_needs_no_key_and_other_keys_see_nothing(
    queue_only: httpx.Client,
) -> None:
    job = queue_only.post("/v1/jobs", json=SPEC).json()
    queue_only.post(f"/v1/jobs/{job['id']}/cancel")
    with httpx.Client(timeout=10) as anonymous:
        assert [e.event for e in events(anonymous, job["events_url"])] == ["status", "canceled"]
        tampered = job["events_url"].replace("signature=", "signature=0")
        refused = anonymous.get(tampered)
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/problem+json"
        path = f"/v1/jobs/{job['id']}/events"
        assert anonymous.get(f"{queue_only.base_url}{path}").status_code == 401
    other = queue_only.get(path, headers=auth(OTHER_API_KEY))
    assert other.status_code == 404
    bad = queue_only.get(path, headers={"Last-Event-ID": "not-an-id"})
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["Last-Event-ID"]


def test_a_running_job_streams_status_progress_snapshots_then_completed(api_url: str) -> None:
    with httpx.Client(base_url=api_url, headers=auth(), timeout=60) as http:
        job = http.post("/v1/jobs", json=SPEC).json()
        seen = list(events(http, f"/v1/jobs/{job['id']}/events"))
        record = http.get(f"/v1/jobs/{job['id']}").json()
    kinds = [event.event for event in seen]
    assert kinds[:2] == ["status", "status"]
    assert [e.json()["status"] for e in seen[:2]] == ["queued", "running"]
    assert kinds[-1] == "completed"
    assert seen[-1].json() == {"status": "succeeded"}
    assert set(kinds[2:-1]) == {"progress", "snapshot"}
    ids = [tuple(map(int, event.id.split("-"))) for event in seen]
    assert ids == sorted(set(ids)), "ordered, each event once"
    snapshots = [event.json() for event in seen if event.event == "snapshot"]
    assert [(s["iteration"], s["path"]) for s in snapshots] == [
        (4, "filter_0002/iter_0004.png"),
        (8, "filter_0002/iter_0008.png"),
    ]
    assert all(s["url"] and "key" not in s for s in snapshots), "a link, not a storage key"
    progress = [event.json() for event in seen if event.event == "progress"]
    assert progress[-1] == {"iteration": 12, "total": 12} == record["progress"]
