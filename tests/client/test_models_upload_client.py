"""Uploading models through the SDK (sync and async) and the CLI, over real HTTP; and the
pieces the upload tests cannot see from outside: input ranges and the worker's model cache."""

from __future__ import annotations

import asyncio
from pathlib import Path

import redis

from featviz.model_files import INPUT_RANGES
from featviz.storage import LocalStorage
from featviz.user_models import ModelStore, UserModel
from featviz_client import AsyncClient, AsyncModelUpload, Client, ModelUpload
from tests.client.test_client_cli import as_json, featviz
from tests.helpers.hostile_files import not_a_zip
from tests.helpers.model_files import CNN_LAYERS
from tests.helpers.service_stack import API_KEY


def test_sdk_uploads_waits_and_runs_a_job(api_url: str, cnn_file: Path) -> None:
    with Client(api_url, API_KEY) as client:
        upload = client.upload_model(cnn_file, "sdk cnn", "[-1,1]")
        assert isinstance(upload, ModelUpload)
        assert upload.status == "validating"
        upload.wait(timeout=60)
        assert upload.status == "ready", upload.reason
        assert {layer.name: layer.channels for layer in upload.layers} == CNN_LAYERS
        assert upload.id in [model.id for model in client.models()]
        job = client.run(
            model=upload.id, layer="conv_b", filter=2, image_size=32, iterations=4, snapshots=[3]
        )
        assert job.status == "succeeded"
        upload.delete()


def test_async_sdk_upload_reports_a_rejection(api_url: str, tmp_path: Path) -> None:
    # Refused by the archive checks, before the validating child imports TensorFlow: the SDK's
    # side is the same as for a Lambda layer (tests/service/test_models_upload.py), and quicker.
    async def upload_renamed_h5() -> AsyncModelUpload:
        async with AsyncClient(api_url, API_KEY) as client:
            upload = await client.upload_model(not_a_zip(tmp_path / "old.keras"), "h5", "[0,1]")
            return await upload.wait(timeout=60)

    upload = asyncio.run(upload_renamed_h5())
    assert upload.status == "rejected"
    assert upload.reason is not None
    assert "not a zip archive" in upload.reason


def test_cli_uploads_lists_and_deletes(api_url: str, cnn_file: Path) -> None:
    flags = ["--name", "cli cnn", "--input-range", "[0,255]", "--wait", "--json"]
    uploaded = as_json(featviz(api_url, "models", "upload", str(cnn_file), *flags))
    assert uploaded["status"] == "ready"
    assert uploaded["input_range"] == "[0,255]"
    assert uploaded["id"] in featviz(api_url, "models").stdout
    assert "conv_b  16 channels" in featviz(api_url, "models", uploaded["id"]).stdout
    featviz(api_url, "models", "delete", uploaded["id"])
    missing = featviz(api_url, "models", uploaded["id"], check=False)
    assert missing.returncode != 0
    usage = featviz(api_url, "models", "upload", str(cnn_file), check=False)
    assert usage.returncode == 2
    assert "--input-range" in usage.stderr


def test_every_input_range_has_an_engine_mapping_and_the_sdk_knows_it() -> None:
    from featviz_client.models import INPUT_RANGES as SDK_INPUT_RANGES
    from featviz_engine.models import INPUT_MAPPINGS

    assert set(INPUT_MAPPINGS) == set(INPUT_RANGES)
    assert SDK_INPUT_RANGES == INPUT_RANGES  # the SDK imports nothing from featviz


def test_worker_cache_unloads_the_least_recently_used_model(
    cnn_file: Path, tmp_path: Path, clean_redis: str
) -> None:
    from featviz.fields import MAX_IMAGE_SIZE, MIN_IMAGE_SIZE
    from featviz_engine.models import is_registered
    from featviz_engine.uploaded_models import catalogue_file, load_safely, weight_bytes
    from worker.retrying_storage import RetryingStorage
    from worker.user_models import LoadedModels, catalog_entry

    storage = LocalStorage(tmp_path, b"secret")
    models = ModelStore(redis.Redis.from_url(clean_redis, decode_responses=True))
    # A file this test built: catalogued in process, without validate_model_file's sandbox.
    entry = catalog_entry(catalogue_file(cnn_file, MIN_IMAGE_SIZE, MAX_IMAGE_SIZE))
    records: list[UserModel] = []
    for index in range(3):
        record = models.create(f"mdl_{index:028x}", "owner", "cnn", "[0,1]", 1)
        storage.put(record.file_key, cnn_file.read_bytes())
        models.mark_ready(record.id, entry)
        ready = models.get(record.id)
        assert ready is not None
        records.append(ready)
    # Room for two models' weights: loading a third unloads the least recently used.
    loaded = LoadedModels(2 * weight_bytes(load_safely(cnn_file)))
    retrying = RetryingStorage(storage, 1, 0)
    first, second, third = records
    loaded.use(first, retrying)
    loaded.use(second, retrying)
    loaded.use(first, retrying)
    loaded.use(third, retrying)
    assert first.id in loaded
    assert third.id in loaded
    assert second.id not in loaded
    assert not is_registered(second.id)
    assert is_registered(first.id)
