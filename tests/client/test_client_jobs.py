"""The SDK against the real stack over HTTP: submit, wait, download, list, cancel; sync and
async."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import featviz_client
from featviz_client import (
    AsyncClient,
    AsyncJob,
    Client,
    ConflictError,
    Job,
    LayerJob,
    ModelSummary,
)
from tests.helpers.service_stack import API_KEY

LAYER = "conv3_block1_out"
RENDER: dict[str, Any] = {
    "weights": "random",
    "image_size": 64,
    "iterations": 12,
    "snapshots": [5, 10],
    "tv_start": 4,
}
TINY: dict[str, Any] = {**RENDER, "layer": LAYER}


@pytest.fixture
def client(api_url: str) -> Iterator[Client]:
    with Client(api_url, API_KEY) as client:
        yield client


def png_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as picture:
        assert picture.format == "PNG"
        return picture.size


def test_submit_wait_download_gives_the_snapshot_pngs(
    client: Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job = client.submit(**TINY, filter=3)
    assert isinstance(job, Job)
    assert job.status in ("queued", "running")

    assert job.wait(timeout=120, progress=True) is job
    assert job.status == "succeeded", job.error
    assert "12/12" in capsys.readouterr().err, "a tqdm bar of iterations"
    assert [s.iteration for s in job.snapshots] == [5, 10]
    assert job.metrics == job.finals[-1].metrics
    assert job.metrics is not None
    assert job.metrics.displayed_activation is not None
    assert job.finals[-1].dead_at_start is not None, "known for the final image"
    assert job.snapshots[0].dead_at_start is None
    assert job.progress.fraction == 1.0

    written = job.download(tmp_path)
    relative = sorted(str(path.relative_to(tmp_path)) for path in written)
    assert relative == [
        "filter_0003/iter_0005.png",
        "filter_0003/iter_0010.png",
        "filter_0003/iter_0011.png",
        "filter_0003/progress.gif",
        "filter_0003/sheet.png",
        "result.json",
    ]
    sizes = {png_size(tmp_path / name) for name in relative if "iter_" in name}
    assert len(sizes) == 1, "every snapshot has the same size"

    fetched = client.jobs.get(job.id).refresh()
    assert (fetched.id, fetched.status, fetched.snapshots[0].iteration) == (job.id, "succeeded", 5)
    with pytest.raises(ConflictError) as raised:
        job.cancel()
    assert raised.value.status == 409


def test_jobs_list_pages_through_every_job(client: Client) -> None:
    created = [client.submit(**TINY, filter=index) for index in range(3)]
    listed = [job.id for job in client.jobs.list(page_size=2)]
    mine = [job_id for job_id in listed if job_id in {job.id for job in created}]
    assert mine == [job.id for job in reversed(created)], "newest first, across pages"
    assert len(listed) > 2
    for job in created:
        job.wait(timeout=120)
    succeeded = list(client.jobs.list(status="succeeded", page_size=2))
    assert {job.id for job in created} <= {job.id for job in succeeded}
    assert {job.status for job in succeeded} == {"succeeded"}


def test_layer_job_waits_downloads_and_has_a_contact_sheet(client: Client, tmp_path: Path) -> None:
    job = client.layer("resnet50v2", LAYER, range(0, 4), pack_size=4, **RENDER)
    assert isinstance(job, LayerJob)
    assert job.spec["filter_range"] == {"start": 0, "stop": 4}
    assert job.counts.total == 4
    assert job.contact_sheet is None

    job.wait(timeout=120)
    assert job.status == "succeeded", job.error
    assert job.counts.succeeded == 4
    assert job.contact_sheet is not None
    written = job.download(tmp_path)
    assert tmp_path / "sheet.png" in written
    assert {path.relative_to(tmp_path).parts[0] for path in written if "iter_" in path.name} == {
        "filter_0000",
        "filter_0001",
        "filter_0002",
        "filter_0003",
    }
    final = tmp_path / "filter_0000" / "iter_0011.png"
    assert png_size(tmp_path / "sheet.png")[0] > 4 * png_size(final)[0]


def test_models_are_typed(client: Client) -> None:
    models = client.models()
    assert all(isinstance(model, ModelSummary) for model in models)
    model = client.model("resnet50v2")
    layer = model.layer("conv3_block1_out")
    assert layer is not None
    assert layer.min_image_size is not None
    assert layer.min_image_size <= 64
    assert layer.channels == 512


def test_async_client_does_the_same_round_trip(api_url: str, tmp_path: Path) -> None:
    async def round_trip() -> tuple[AsyncJob, list[Path], list[str]]:
        async with AsyncClient(api_url, API_KEY) as client:
            job = await client.submit(**TINY, filter=5)
            await job.wait(timeout=120)
            written = await job.download(tmp_path)
            listed = [listed.id async for listed in client.jobs.list(page_size=1)]
            return job, written, listed[:3]

    job, written, newest = asyncio.run(round_trip())
    assert isinstance(job, AsyncJob)
    assert job.status == "succeeded", job.error
    assert job.id in newest
    snapshots = sorted(path.name for path in written if path.parent.name == "filter_0005")
    assert snapshots[:3] == ["iter_0005.png", "iter_0010.png", "iter_0011.png"]
    assert png_size(tmp_path / "filter_0005" / "iter_0005.png")[0] > 0


def test_an_image_says_how_its_dead_start_went() -> None:
    image = {"filter": 4, "tv_weight": 0.0, "iteration": 11, "path": "p", "url": "u",
             "activation": 0.0, "total_variation": 0.1, "high_frequency_fraction": 0.5}  # fmt: skip
    recorded = featviz_client.Image.model_validate
    assert recorded(image).start_note is None
    revived = recorded(image | {"dead_at_start": True, "came_alive_at": 3})
    assert revived.start_note == "dead at the start image; came alive at iteration 3"
    assert not revived.never_alive
    never = recorded(image | {"dead_at_start": True})
    assert never.start_note == "dead at the start image; never came alive"
    assert never.never_alive
    assert never.metrics.describe() == "activation 0  hf 0.500"
