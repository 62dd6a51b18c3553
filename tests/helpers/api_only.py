"""The API alone, in process, over a clean Redis database: no worker runs, so every accepted job
stays queued and the tests can count exactly what was recorded and enqueued."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient

from api.main import create_app
from tests.helpers.service_stack import API_KEY, service_environment, settings_from

QUEUE = "featviz-api-only"


@contextmanager
def api_only(clean_redis: str, **settings: str) -> Iterator[TestClient]:
    """The API for ``clean_redis`` with ``FEATVIZ_*`` settings overridden."""
    environment = service_environment(clean_redis, QUEUE, "unused-storage") | settings
    with TestClient(create_app(settings_from(environment))) as client:
        yield client


def auth(key: str = API_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
