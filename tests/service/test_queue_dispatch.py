"""``JobQueue.dispatch``: the tasks an outbox records are sent and cleared; when the broker is
down the caller's compensation settles the records and clears them, and without one they stay
for the reapers to send."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from kombu.exceptions import OperationalError

from featviz import outbox
from featviz.queue import JobQueue
from tests.helpers.service_stack import free_port, service_environment, settings_from

QUEUE = "featviz-dispatch-test"


@pytest.fixture
def client(clean_redis: str) -> redis.Redis[str]:
    return redis.Redis.from_url(clean_redis, decode_responses=True)


@contextmanager
def queue_on(broker_url: str, folder: Path) -> Iterator[JobQueue]:
    queue = JobQueue(settings_from(service_environment(broker_url, QUEUE, str(folder))))
    yield queue
    queue.close()


def record(client: redis.Redis[str], entries: list[str]) -> None:
    with client.pipeline(transaction=True) as pipe:
        outbox.stage(pipe, entries, outbox.redis_now(client))
        pipe.execute()


ENTRIES = [outbox.entry("run", "job-1"), outbox.entry("finish", "layer-job-1")]


def test_sent_tasks_reach_the_broker_and_leave_the_outbox(
    client: redis.Redis[str], clean_redis: str, tmp_path: Path
) -> None:
    record(client, ENTRIES)
    with queue_on(clean_redis, tmp_path) as queue:
        queue.dispatch(client, ENTRIES)
    assert client.llen(QUEUE) == len(ENTRIES)
    assert outbox.due(client, -60) == []


def test_unsent_tasks_stay_for_the_reapers_without_a_compensation(
    client: redis.Redis[str], tmp_path: Path
) -> None:
    record(client, ENTRIES)
    with (
        queue_on(f"redis://127.0.0.1:{free_port()}/0", tmp_path) as queue,  # no broker there
        pytest.raises(OperationalError),
    ):
        queue.dispatch(client, ENTRIES)
    assert sorted(outbox.due(client, -60)) == sorted(ENTRIES)


def test_a_compensation_settles_what_could_not_be_sent(
    client: redis.Redis[str], tmp_path: Path
) -> None:
    record(client, ENTRIES)
    compensated: list[bool] = []
    with (
        queue_on(f"redis://127.0.0.1:{free_port()}/0", tmp_path) as queue,
        pytest.raises(OperationalError),
    ):
        queue.dispatch(client, ENTRIES, compensate=lambda: compensated.append(True))
    assert compensated == [True]
    assert outbox.due(client, -60) == []


def test_an_entry_names_its_task() -> None:
    assert outbox.parse(outbox.entry("validate", "mdl_1")) == ("validate", "mdl_1")
    with pytest.raises(ValueError, match="names no task"):
        outbox.parse("explode:1")
