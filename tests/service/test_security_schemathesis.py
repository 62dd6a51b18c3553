"""schemathesis against the API's own OpenAPI schema, over real HTTP to the app on a real Redis:
no answer is a 5xx, and every 4xx is ``application/problem+json``.

Each operation gets valid and invalid requests (schemathesis's positive and negative modes). No
worker runs, so accepted jobs stay queued. Requests carry a valid API key unless schemathesis
sends its own ``Authorization``; the test settings' rate limit is high, so limits do not hide
anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.schemas import OpenApiSchema

from api.errors import PROBLEM_MEDIA_TYPE
from api.main import create_app
from tests.helpers.service_stack import API_KEY, service_environment, serving, settings_from

# About 15 s for the whole schema on two shared cores.
EXAMPLES_PER_OPERATION = 50
AUTH = {"Authorization": f"Bearer {API_KEY}"}

# What schemathesis found, kept as fixed requests: (path, query, the status now expected).
FOUND = [
    # A signature with non-ASCII characters made hmac.compare_digest raise TypeError: a 500.
    ("/v1/files/l", {"expires": "-199", "signature": "ò@'²"}, 403),
]


@pytest.fixture
def api_url(clean_redis: str, tmp_path: Path) -> Iterator[str]:
    environment = service_environment(clean_redis, "featviz-schemathesis", str(tmp_path))
    with serving(create_app(settings_from(environment))) as url:
        yield url


def media_type(headers: httpx.Headers | dict[str, list[str]]) -> str:
    value = headers.get("content-type", "")
    if isinstance(value, list):
        value = value[0] if value else ""
    return value.split(";")[0]


def test_no_server_errors_and_every_client_error_is_a_problem(api_url: str) -> None:
    schema: OpenApiSchema = schemathesis.openapi.from_url(f"{api_url}/openapi.json")
    found: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        cases = st.one_of(
            operation.as_strategy(schemathesis.GenerationMode.POSITIVE),
            operation.as_strategy(schemathesis.GenerationMode.NEGATIVE),
        )

        # Every bad answer is collected, so one run reports them all instead of the first.
        @given(case=cases)
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def call(case: schemathesis.Case) -> None:
            response = case.call(headers=AUTH)
            code, kind = response.status_code, media_type(response.headers)
            if code >= 500 or (code >= 400 and kind != PROBLEM_MEDIA_TYPE):
                request = f"{case.method} {case.formatted_path} query={case.query} body={case.body}"
                found.append(f"{request} -> {code} {kind}: {response.text[:300]}")

        call()
    assert not found, "\n".join(found)


@pytest.mark.parametrize(("path", "query", "expected"), FOUND)
def test_what_schemathesis_found_stays_fixed(
    api_url: str, path: str, query: dict[str, str], expected: int
) -> None:
    response = httpx.get(f"{api_url}{path}", params=query, headers=AUTH)
    assert response.status_code == expected, response.text
    assert media_type(response.headers) == PROBLEM_MEDIA_TYPE
