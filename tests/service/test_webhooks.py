"""Webhooks: signed as Standard Webhooks say, delivered by the workers to a real HTTP receiver
and retried with backoff, recorded on the job; URLs that lead to private addresses are refused
at submit (naming ``webhook``, nothing recorded) and again at delivery."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from featviz.outbox import OUTBOX_KEY
from featviz.store import JobStore, job_key
from featviz_client import WebhookSignatureError, verify_webhook
from tests.helpers.api_only import QUEUE, api_only, auth
from tests.helpers.service_stack import (
    Stack,
    eventually,
    service_environment,
    settings_from,
)
from tests.helpers.webhook_receiver import webhook_receiver
from worker.webhooks import WebhookDispatcher

SPEC: dict[str, Any] = {
    "weights": "random",
    "layer": "conv3_block1_out",
    "filter": 5,
    "iterations": 10,
    "snapshots": [3, 6],
    "image_size": 64,
}
PATHS = {"job": "/v1/jobs", "layer_job": "/v1/layer-jobs", "comparison": "/v1/comparisons"}


def test_deliveries_are_signed_retried_and_recorded_on_the_job(local_stack: Stack) -> None:
    with webhook_receiver(failures_per_event=2) as receiver:
        body = {**SPEC, "webhook": receiver.url, "webhook_events": ["snapshot", "completed"]}
        job = local_stack.submit("/v1/jobs", body)
        local_stack.wait(job["id"])

        def settled() -> Any:
            webhook = local_stack.get(f"/v1/jobs/{job['id']}").json()["webhook"]
            return webhook if webhook["pending"] == 0 else None

        webhook = eventually(settled, 60, "every delivery to settle")
    # Each event failed twice (503), then was delivered: three attempts each.
    assert webhook | {"last_attempt_at": None} == {
        "url": receiver.url,
        "events": ["snapshot", "completed"],
        "pending": 0,
        "delivered": 3,
        "given_up": 0,
        "attempts": 9,
        "last_event": "completed",
        "last_attempt_at": None,
        "last_status": 200,
        "last_error": None,
    }
    tries = Counter(delivery.headers["webhook-id"] for delivery in receiver.received)
    assert sorted(tries.values()) == [3, 3, 3], "an event keeps its webhook-id over retries"
    secret = local_stack.get("/v1/webhook-secret").json()["secret"]
    assert secret.startswith("whsec_")
    delivered = [d for d in receiver.received if d.answered == 200]
    events = [verify_webhook(d.body, d.headers, secret) for d in delivered]
    assert sorted(event.type for event in events) == [
        "job.completed",
        "job.snapshot",
        "job.snapshot",
    ]
    assert {event.data["job_id"] for event in events} == {job["id"]}
    completed = next(event for event in events if event.type == "job.completed")
    assert (completed.data["status"], completed.data["kind"]) == ("succeeded", "job")
    snapshots = sorted(e.data["path"] for e in events if e.type == "job.snapshot")
    assert snapshots == ["filter_0005/iter_0003.png", "filter_0005/iter_0006.png"]
    with pytest.raises(WebhookSignatureError):
        verify_webhook(delivered[0].body, delivered[0].headers, "whsec_" + "A" * 43 + "=")
    with pytest.raises(WebhookSignatureError):
        verify_webhook(delivered[0].body.replace(b"job.", b"jab."), delivered[0].headers, secret)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:8080/hook", "not a public address"),
        ("http://localhost/hook", "not a public address"),
        ("http://10.1.2.3/hook", "not a public address"),
        ("http://169.254.169.254/latest/meta-data", "not a public address"),
        ("http://[::1]:9000/", "not a public address"),
        ("http://[::ffff:127.0.0.1]/", "not a public address"),
        ("http://user:secret@127.0.0.1/", "credentials"),
        ("ftp://example.com/hook", "http:// or https://"),
    ],
)
def test_a_webhook_to_a_private_address_is_refused(clean_redis: str, url: str, why: str) -> None:
    with api_only(clean_redis, FEATVIZ_WEBHOOK_PRIVATE_NETWORKS="") as client:
        for kind, path in PATHS.items():
            body = {**SPEC, "webhook": url} | ({"filters": [0]} if kind == "layer_job" else {})
            if kind != "job":
                body.pop("filter" if kind == "layer_job" else "snapshots")
            refused = client.post(path, json=body, headers=auth())
            assert refused.status_code == 422, (kind, refused.text)
            assert refused.headers["content-type"] == "application/problem+json"
            (error,) = refused.json()["errors"]
            assert error["field"] == "webhook"
            assert why in error["message"]
        store = JobStore.from_url(clean_redis)
        assert store.redis.keys(job_key("*")) == [], "nothing recorded"
        assert store.redis.zcard(OUTBOX_KEY) == store.redis.llen(QUEUE) == 0, "nor enqueued"


def test_allowed_networks_and_hosts_decide_and_the_job_shows_its_webhook(clean_redis: str) -> None:
    hosts = {"FEATVIZ_WEBHOOK_HOSTS": "*.example.com"}
    with api_only(clean_redis, **hosts) as client:
        refused = client.post(
            "/v1/jobs", json={**SPEC, "webhook": "http://127.0.0.1/h"}, headers=auth()
        )
        assert refused.status_code == 422
        assert "not one this service sends webhooks to" in refused.json()["errors"][0]["message"]
    with api_only(clean_redis) as client:  # the tests' settings allow 127.0.0.0/8
        body = {**SPEC, "webhook": "http://127.0.0.1:9/hook"}
        accepted = client.post("/v1/jobs", json=body, headers=auth())
        assert accepted.status_code == 202, accepted.text
        webhook = accepted.json()["webhook"]
        assert webhook["events"] == ["canceled", "completed", "failed"]
        assert (webhook["pending"], webhook["attempts"], webhook["last_status"]) == (0, 0, None)


def test_a_delivery_checks_the_url_again(clean_redis: str) -> None:
    """A URL allowed when the job was submitted but not when its event is due goes nowhere."""
    with webhook_receiver() as receiver, api_only(clean_redis) as client:
        job = client.post("/v1/jobs", json={**SPEC, "webhook": receiver.url}, headers=auth()).json()
        client.post(f"/v1/jobs/{job['id']}/cancel", headers=auth())
        stricter = service_environment(clean_redis, QUEUE, "unused-storage") | {
            "FEATVIZ_WEBHOOK_PRIVATE_NETWORKS": "",
            "FEATVIZ_WEBHOOK_ATTEMPTS": "1",
        }
        dispatcher = WebhookDispatcher(
            JobStore.from_url(clean_redis).redis, settings_from(stricter)
        )
        assert dispatcher.deliver_due() == 1
        webhook = client.get(f"/v1/jobs/{job['id']}", headers=auth()).json()["webhook"]
    assert receiver.received == []
    assert (webhook["given_up"], webhook["pending"], webhook["last_event"]) == (1, 0, "canceled")
    assert "not a public address" in webhook["last_error"]
    assert webhook["last_status"] is None
