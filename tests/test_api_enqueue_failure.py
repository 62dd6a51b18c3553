"""A job that could not be queued fails with a reason and frees its Idempotency-Key, so that the
client's retry (same key) makes a new job instead of replaying the failed one."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import Response

from api.errors import ProblemError
from api.submit import Submission
from api.views import Linker
from featviz.queue import JobQueue
from featviz.specs import JobSpec
from featviz.storage import LocalStorage
from featviz.store import JobStore
from featviz.user_models import ModelStore
from tests.service_stack import free_port, service_environment, settings_from

SPEC = {
    "weights": "random",
    "layer": "conv3_block1_out",
    "iterations": 4,
    "snapshots": [1],
    "image_size": 64,
}


def submission(store: JobStore, broker_url: str, folder: Path) -> Submission:
    settings = settings_from(service_environment(broker_url, "featviz-enqueue-test", str(folder)))
    linker = Linker(LocalStorage(folder, b"secret"), 60, "http://testserver")
    return Submission(store, JobQueue(settings), settings, linker, ModelStore(store.redis))


def test_failed_enqueue_releases_the_idempotency_key(clean_redis: str, tmp_path: Path) -> None:
    store = JobStore.from_url(clean_redis)
    spec = JobSpec.model_validate(SPEC)
    broken = submission(store, f"redis://127.0.0.1:{free_port()}/0", tmp_path)  # no broker there
    with pytest.raises(ProblemError) as refused:
        broken.submit("job", spec, "owner", "retry-me", Response())
    assert refused.value.details.status == 503
    assert refused.value.headers["Retry-After"]
    (failed,), _ = store.list_owned("owner")
    assert failed.status == "failed"
    assert failed.error is not None
    assert failed.error.status == 503

    working = submission(store, clean_redis, tmp_path)
    retried = working.submit("job", spec, "owner", "retry-me", Response())
    assert retried.status == "queued"
    assert retried.id != failed.id
    again = working.submit("job", spec, "owner", "retry-me", Response())
    assert again.id == retried.id  # from now on the key replays the queued job
