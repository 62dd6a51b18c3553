"""Jobs, layer jobs and comparisons through the API, run by a real worker process, with files in
local storage served by the API behind signed links."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import numpy as np
from PIL import Image

from featviz.queue import JobQueue
from featviz.store import NewJob, job_key, new_job_id
from featviz_engine.images import contact_sheet, crop_for
from tests.helpers.service_stack import API_KEY, Stack, eventually

TINY = {
    "model": "resnet50v2",
    "weights": "random",
    "layer": "conv3_block1_out",
    "image_size": 64,
    "iterations": 12,
    "snapshots": [5, 10],
    "tv_start": 4,
}
TILE = 64 - 2 * crop_for(64)


def fetch_png(stack: Stack, url: str) -> np.ndarray:
    response = stack.client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(response.content)) as picture:
        assert picture.format == "PNG"
        return np.asarray(picture.convert("RGB"))


def watch_progress(stack: Stack, job_id: str) -> tuple[dict[str, Any], list[int]]:
    """Poll a job until it ends; returns the last record and every progress value seen."""
    seen: list[int] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = stack.get(f"/v1/jobs/{job_id}").json()
        seen.append(job["progress"]["iteration"])
        if job["status"] in ("succeeded", "failed", "canceled"):
            return job, seen
        time.sleep(0.01)
    raise AssertionError(f"job {job_id} did not finish")


def test_job_succeeds_with_snapshots_metrics_and_progress(local_stack: Stack) -> None:
    created = local_stack.submit("/v1/jobs", {**TINY, "filter": 3})
    # The answer reads the job back after it is queued, so a quick worker may have taken it.
    assert created["status"] in ("queued", "running")
    job, seen = watch_progress(local_stack, created["id"])

    assert job["status"] == "succeeded", job["error"]
    assert job["attempts"] == 1
    assert job["progress"] == {"iteration": 12, "total": 12}
    assert seen == sorted(seen), "progress never goes back"
    assert len(set(seen)) >= 2, f"progress rose: {seen}"
    assert seen[-1] == 12
    assert [s["iteration"] for s in job["snapshots"]] == [5, 10]
    assert [f["iteration"] for f in job["finals"]] == [11]
    for image in job["snapshots"] + job["finals"]:
        assert image["filter"] == 3
        assert np.isfinite(image["activation"])
        assert np.isfinite(image["displayed_activation"])
        assert 0 <= image["high_frequency_fraction"] <= 1
        assert image["total_variation"] > 0
        assert fetch_png(local_stack, image["url"]).shape == (TILE, TILE, 3)
    assert job["snapshots"][0]["path"] == "filter_0003/iter_0005.png"
    assert (
        job["snapshots"][0]["url"].split("?")[0].endswith(f"/{job['id']}/filter_0003/iter_0005.png")
    )
    assert set(job["files"]) == {
        "filter_0003/sheet.png", "filter_0003/progress.gif", "result.json",
    }  # fmt: skip
    result = json.loads(local_stack.client.get(job["files"]["result.json"]).content)
    assert result["spec"]["filter"] == 3
    assert [s["iteration"] for s in result["images"][0]["snapshots"]] == [5, 10]
    assert job["worker"]["pid"] == local_stack.worker.pid
    assert job["started_at"] <= job["finished_at"]


def test_layer_job_packs_filters_and_makes_a_contact_sheet(local_stack: Stack) -> None:
    created = local_stack.submit(
        "/v1/layer-jobs", {**TINY, "filter_range": {"start": 0, "stop": 8}, "pack_size": 4}
    )
    assert created["kind"] == "layer_job"
    assert created["counts"] == {"total": 8, "succeeded": 0, "failed": 0, "canceled": 0}
    assert created["progress"]["total"] == 2 * 12

    job = local_stack.wait(created["id"])
    assert job["status"] == "succeeded", job["error"]
    counts = job["counts"]
    assert counts == {"total": 8, "succeeded": 8, "failed": 0, "canceled": 0}
    assert counts["succeeded"] + counts["failed"] + counts["canceled"] == counts["total"]
    assert [final["filter"] for final in job["finals"]] == list(range(8))
    for final in job["finals"]:
        assert fetch_png(local_stack, final["url"]).shape == (TILE, TILE, 3)
    sheet = fetch_png(local_stack, job["files"]["sheet.png"])
    labels = [f"filter {index}" for index in range(8)]
    expected = contact_sheet([np.zeros((TILE, TILE, 3), np.uint8)] * 8, labels, columns=8)
    assert sheet.shape == expected.shape
    result = json.loads(local_stack.client.get(job["files"]["result.json"]).content)
    assert result["counts"] == counts
    assert [image["final"]["path"] for image in result["images"]] == [
        f"filter_{index:04d}/iter_0011.png" for index in range(8)
    ]
    # The packs are internal: the user sees the layer job only.
    listed = local_stack.get("/v1/jobs", params={"limit": 100}).json()["items"]
    assert all(item["kind"] != "pack" for item in listed)


def test_layer_job_records_dead_starts_and_marks_filters_that_never_came_alive(
    local_stack: Stack,
) -> None:
    # On the trained VGG16 at 64 px, block2_conv2's filters 0, 2, 4-7 are dead at the seed's
    # start image; in 6 iterations revival wakes 0 (at once), 2, 5 and 6, not 4 or 7.
    created = local_stack.submit(
        "/v1/layer-jobs",
        {
            **TINY,
            "model": "vgg16",
            "weights": "hed-bsds500",
            "layer": "block2_conv2",
            "iterations": 6,
            "snapshots": [2],
            "filter_range": {"start": 0, "stop": 8},
        },
    )
    job = local_stack.wait(created["id"])
    assert job["status"] == "succeeded", job["error"]
    finals = {final["filter"]: final for final in job["finals"]}
    assert finals[1]["dead_at_start"] is False
    assert finals[1]["came_alive_at"] is None
    assert finals[0]["dead_at_start"] is True
    assert 0 <= finals[0]["came_alive_at"] < 6
    assert finals[4]["dead_at_start"] is True
    assert finals[4]["came_alive_at"] is None, "filter 4 never came alive"
    for image in job["finals"]:
        assert np.isfinite(image["displayed_activation"])
    assert finals[1]["displayed_activation"] > 0
    assert finals[4]["displayed_activation"] == 0

    never_alive = [f["dead_at_start"] and f["came_alive_at"] is None for f in job["finals"]]
    tiles = [fetch_png(local_stack, final["url"]) for final in job["finals"]]
    labels = [f"filter {final['filter']}" for final in job["finals"]]
    sheet = fetch_png(local_stack, job["files"]["sheet.png"])
    marked = contact_sheet(tiles, labels, columns=8, marked=never_alive)
    assert np.array_equal(sheet, marked), "the sheet marks the filters that never came alive"
    assert not np.array_equal(sheet, contact_sheet(tiles, labels, columns=8))

    result = json.loads(local_stack.client.get(job["files"]["result.json"]).content)
    by_filter = {image["filter"]: image["final"] for image in result["images"]}
    assert by_filter[4]["dead_at_start"] is True
    assert "came_alive_at" not in by_filter[4]
    assert by_filter[0]["came_alive_at"] == finals[0]["came_alive_at"]
    assert by_filter[1]["displayed_activation"] == finals[1]["displayed_activation"]


def test_comparison_grid_has_one_column_per_tv_weight(local_stack: Stack) -> None:
    weights = [0.0, 0.0005, 0.001]
    created = local_stack.submit("/v1/comparisons", {**TINY, "filter": 2, "tv_weights": weights})
    job = local_stack.wait(created["id"])
    assert job["status"] == "succeeded", job["error"]
    assert sorted({s["tv_weight"] for s in job["snapshots"]}) == weights
    assert len(job["snapshots"]) == 3 * 2
    by_weight = {s["tv_weight"]: s["path"].rsplit("/", 1)[0] for s in job["snapshots"]}
    assert by_weight == {w: f"filter_0002/tv_{column}" for column, w in enumerate(weights)}
    grid = fetch_png(local_stack, job["files"]["sheet.png"])
    rows = ["iter 5", "iter 10", "iter 11"]
    tiles = [np.zeros((TILE, TILE, 3), np.uint8)] * 9
    labels = [f"tv {w:g}" for w in weights] * 3
    assert grid.shape == contact_sheet(tiles, labels, columns=3, row_labels=rows).shape
    assert grid.shape != contact_sheet(tiles, labels, columns=2, row_labels=rows).shape


def test_cancel_stops_a_running_job_and_keeps_its_snapshots(local_stack: Stack) -> None:
    created = local_stack.submit(
        "/v1/jobs", {**TINY, "iterations": 10_000, "snapshots": [2, 5], "filter": 1}
    )

    def two_snapshots_taken() -> dict[str, Any] | None:
        job: dict[str, Any] = local_stack.get(f"/v1/jobs/{created['id']}").json()
        return job if len(job["snapshots"]) == 2 else None

    running = eventually(two_snapshots_taken, 120, "the first snapshots")
    assert running["status"] == "running"
    requested = time.monotonic()
    answer = local_stack.post(f"/v1/jobs/{created['id']}/cancel")
    assert answer.status_code == 202
    assert answer.json()["cancel_requested"] is True

    job = local_stack.wait(created["id"], timeout_s=30)
    assert job["status"] == "canceled"
    assert time.monotonic() - requested < 5, "the worker checks for cancel every iteration"
    assert 5 < job["progress"]["iteration"] < 10_000
    assert [s["iteration"] for s in job["snapshots"]] == [2, 5]
    for snapshot in job["snapshots"]:
        assert fetch_png(local_stack, snapshot["url"]).shape == (TILE, TILE, 3)
    again = local_stack.post(f"/v1/jobs/{created['id']}/cancel")
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"


def test_cancel_of_a_queued_job_means_it_never_runs(local_stack: Stack) -> None:
    # A job that holds the worker, so the next one waits in the queue.
    blocker = local_stack.submit("/v1/jobs", {**TINY, "iterations": 10_000, "snapshots": [2]})
    eventually(
        lambda: local_stack.get(f"/v1/jobs/{blocker['id']}").json()["status"] == "running" or None,
        120,
        "the blocker to run",
    )
    queued = local_stack.submit("/v1/jobs", TINY)
    answer = local_stack.post(f"/v1/jobs/{queued['id']}/cancel")
    assert answer.status_code == 202
    assert answer.json()["status"] == "canceled"
    local_stack.post(f"/v1/jobs/{blocker['id']}/cancel")
    local_stack.wait(blocker["id"], timeout_s=30)
    eventually(lambda: local_stack.queue_length() == 0 or None, 30, "the queue to drain")
    job = local_stack.get(f"/v1/jobs/{queued['id']}").json()
    assert job["status"] == "canceled"
    assert job["attempts"] == 0
    assert job["started_at"] is None


def test_time_budget_failure_is_recorded_as_problem_details(local_stack: Stack) -> None:
    created = local_stack.submit(
        "/v1/jobs", {**TINY, "iterations": 10_000, "snapshots": [], "time_budget_s": 1.0}
    )
    job = local_stack.wait(created["id"])
    assert job["status"] == "failed"
    error = job["error"]
    assert error["type"] == "urn:featviz:problem:time-budget"
    assert error["status"] == 504
    assert "budget" in error["detail"]


def test_job_fails_after_three_deliveries(local_stack: Stack) -> None:
    """A job already delivered three times (each died) is failed, not run, on the fourth."""
    store = local_stack.store
    job_id = new_job_id()
    spec = {**TINY, "filter": 1, "tv_weight": 0.0}
    store.create([NewJob(job_id, "job", "someone", spec, total_iterations=12)])
    store.redis.hset(job_key(job_id), "attempts", 3)
    queue = JobQueue(local_stack.settings)
    queue.enqueue(job_id)
    queue.close()
    record = eventually(
        lambda: (r := store.get(job_id)) and (r if r.status == "failed" else None),
        60,
        "the job to fail",
    )
    assert record.error is not None
    assert record.error.type == "urn:featviz:problem:attempts-exhausted"
    assert "delivered 3 times without finishing" in (record.error.detail or "")
    assert record.attempts == 3, "the refused delivery is not counted"
    assert record.snapshots == []


def test_metrics_report_queue_jobs_and_durations(local_stack: Stack) -> None:
    job = local_stack.wait(local_stack.submit("/v1/jobs", TINY)["id"])
    assert job["status"] == "succeeded"
    response = local_stack.get("/metrics")
    assert response.status_code == 200
    text = response.text
    assert "featviz_queue_depth" in text
    succeeded = next(
        line for line in text.splitlines() if line.startswith('featviz_jobs{status="succeeded"}')
    )
    assert float(succeeded.split()[-1]) >= 1
    count = next(
        line for line in text.splitlines() if line.startswith("featviz_job_duration_seconds_count")
    )
    assert float(count.split()[-1]) >= 1
    assert local_stack.client.get("/metrics").status_code == 401
    assert API_KEY not in text


def test_canceling_a_layer_job_cancels_its_packs(local_stack: Stack) -> None:
    created = local_stack.submit(
        "/v1/layer-jobs",
        {**TINY, "iterations": 10_000, "snapshots": [2], "filters": [0, 1, 2], "pack_size": 1},
    )

    def running() -> dict[str, Any] | None:
        job: dict[str, Any] = local_stack.get(f"/v1/layer-jobs/{created['id']}").json()
        return job if job["status"] == "running" else None

    eventually(running, 120, "the layer job to run")
    answer = local_stack.post(f"/v1/layer-jobs/{created['id']}/cancel")
    assert answer.status_code == 202
    job = local_stack.wait(created["id"], timeout_s=30)
    assert job["status"] == "canceled"
    assert job["counts"] == {"total": 3, "succeeded": 0, "failed": 0, "canceled": 3}
    eventually(lambda: local_stack.queue_length() == 0 or None, 30, "the packs to drain")
