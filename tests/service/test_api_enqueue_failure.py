"""A job that could not be queued fails with a reason and frees its Idempotency-Key, so that the
client's retry (same key) makes a new job instead of replaying the failed one; an upload that
could not be queued is rejected with the reason."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
from fastapi import Response
from starlette.datastructures import FormData, UploadFile

from api.errors import ProblemError
from api.submit import Submission
from api.uploads import Uploads
from api.views import Linker
from featviz import outbox
from featviz.datasets import DatasetStore
from featviz.queue import JobQueue
from featviz.signing import LinkSigner
from featviz.specs import JobSpec
from featviz.storage import LocalStorage
from featviz.store import JobStore
from featviz.user_models import ModelStore
from tests.helpers.service_stack import free_port, service_environment, settings_from

SPEC = {
    "weights": "random",
    "layer": "conv3_block1_out",
    "iterations": 4,
    "snapshots": [1],
    "image_size": 64,
}


def submission(store: JobStore, broker_url: str, folder: Path) -> Submission:
    settings = settings_from(service_environment(broker_url, "featviz-enqueue-test", str(folder)))
    storage = LocalStorage(folder, b"secret")
    linker = Linker(storage, 60, "http://testserver", LinkSigner(b"key"))
    return Submission(
        store,
        JobQueue(settings),
        settings,
        linker,
        ModelStore(store.redis),
        DatasetStore(store.redis),
        storage,
    )


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


def test_an_upload_that_could_not_be_queued_is_rejected_saying_so(
    clean_redis: str, tmp_path: Path
) -> None:
    models = ModelStore(JobStore.from_url(clean_redis).redis)
    broker_url = f"redis://127.0.0.1:{free_port()}/0"  # no broker there
    settings = settings_from(service_environment(broker_url, "featviz-enqueue-test", str(tmp_path)))
    uploads = Uploads(
        models, DatasetStore(models.redis), LocalStorage(tmp_path, b"secret"), JobQueue(settings)
    )
    upload = UploadFile(io.BytesIO(b"not really keras"), size=16, filename="tiny.keras")
    form = FormData([("file", upload), ("name", "tiny"), ("input_range", "[0,1]")])
    with pytest.raises(ProblemError) as refused:
        asyncio.run(uploads.upload("owner", form))
    assert refused.value.details.type == "urn:featviz:problem:queue-unavailable"
    assert refused.value.headers["Retry-After"]
    (rejected,) = models.list_owned("owner")
    assert rejected.status == "rejected"
    assert rejected.reason == "could not be queued for validation; upload it again"
    assert outbox.due(models.redis, -60) == []  # settled: nothing for the reapers to resend
