"""Each typed error from the answer that calls for it, and retries that never duplicate a job.

The real API answers 401, 404, 409 and 422; small real HTTP servers answer 429 and 5xx, and a
proxy in front of the real API loses its first answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from featviz.settings import hash_api_key
from featviz_client import (
    APIConnectionError,
    AuthenticationError,
    Client,
    NotFoundError,
    RateLimitedError,
    RetryPolicy,
    ServerError,
    ValidationError,
)
from tests.client.test_client_jobs import TINY
from tests.helpers.client_servers import Answer, LossyProxy, ScriptedServer, problem_answer
from tests.helpers.service_stack import API_KEY, OTHER_API_KEY, Stack, free_port, serving

QUICK_RETRIES = RetryPolicy(attempts=3, initial_delay_s=0.01, max_delay_s=0.05)
RECORD = {
    "id": "j1",
    "kind": "job",
    "status": "queued",
    "spec": {},
    "created_at": "2026-01-01T00:00:00Z",
    "updated_at": "2026-01-01T00:00:00Z",
}


@pytest.fixture
def client(api_url: str) -> Iterator[Client]:
    with Client(api_url, API_KEY, retry=QUICK_RETRIES) as client:
        yield client


@contextmanager
def scripted_client(server: ScriptedServer) -> Iterator[Client]:
    with serving(server.app()) as url, Client(url, API_KEY, retry=QUICK_RETRIES) as client:
        yield client


def test_invalid_spec_is_a_validation_error_naming_the_field(client: Client) -> None:
    with pytest.raises(ValidationError) as raised:
        client.submit(**{**TINY, "layer": "no_such_layer"})
    error = raised.value
    assert error.status == 422
    assert error.field == "layer"
    assert "no_such_layer" in str(error)
    assert error.problem.type == "urn:featviz:problem:invalid-request"


def test_unknown_key_is_an_authentication_error(api_url: str) -> None:
    with Client(api_url, "not-a-key") as client, pytest.raises(AuthenticationError) as raised:
        client.models()
    assert raised.value.status == 401


def test_another_keys_job_is_not_found(client: Client, api_url: str) -> None:
    job = client.submit(**TINY, filter=0)
    with Client(api_url, OTHER_API_KEY) as other, pytest.raises(NotFoundError):
        other.jobs.get(job.id)
    with pytest.raises(NotFoundError) as raised:
        client.model("no-such-model")
    assert raised.value.detail == "no model 'no-such-model'"
    job.cancel()


def test_429_is_rate_limited_with_retry_after() -> None:
    server = ScriptedServer([problem_answer(429, "Too many requests", **{"Retry-After": "7"})])
    with scripted_client(server) as client, pytest.raises(RateLimitedError) as raised:
        client.jobs.get("j1")
    assert raised.value.retry_after == 7.0
    assert len(server.requests) == 1, "a 429 is not retried"


def test_500_is_a_server_error_and_not_retried() -> None:
    server = ScriptedServer([problem_answer(500, "Internal server error")])
    with scripted_client(server) as client, pytest.raises(ServerError) as raised:
        client.jobs.get("j1")
    assert raised.value.status == 500
    assert len(server.requests) == 1


def test_gateway_errors_are_retried_then_reported() -> None:
    server = ScriptedServer([Answer(502, {"not": "a problem"}), problem_answer(504, "Timeout")])
    with scripted_client(server) as client, pytest.raises(ServerError) as raised:
        client.jobs.get("j1")
    assert raised.value.status == 504
    assert len(server.requests) == QUICK_RETRIES.attempts


def test_cancel_is_not_retried_after_it_was_sent() -> None:
    unavailable = problem_answer(503, "Unavailable")
    server = ScriptedServer([unavailable, Answer(200, RECORD), unavailable])
    with scripted_client(server) as client:
        job = client.jobs.get("j1")  # 503, then the record
        with pytest.raises(ServerError):
            job.cancel()
    assert [method for method, _, _ in server.requests] == ["GET", "GET", "POST"]


def test_two_lost_answers_then_success_create_one_job(local_stack: Stack, api_url: str) -> None:
    proxy = LossyProxy(api_url, losses=2)
    owner = hash_api_key(API_KEY)
    before = local_stack.store.count_owned(owner)
    with serving(proxy.app()) as url, Client(url, API_KEY, retry=QUICK_RETRIES) as client:
        job = client.submit(**TINY, filter=1)
    assert proxy.posts == 3, "the API acted on all three tries"
    assert local_stack.store.count_owned(owner) == before + 1, "one job, not three"
    assert job.spec["filter"] == 1
    local_stack.post(f"/v1/jobs/{job.id}/cancel")


def test_no_service_is_a_connection_error_after_retries() -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    with (
        Client(nobody, API_KEY, retry=QUICK_RETRIES) as client,
        pytest.raises(APIConnectionError, match="after 3 tries"),
    ):
        client.models()


def test_a_client_needs_an_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FEATVIZ_API_KEY", raising=False)
    with pytest.raises(ValueError, match="FEATVIZ_API_KEY"):
        Client("http://127.0.0.1:1")
