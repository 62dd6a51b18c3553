"""Uploaded models through the API against the real stack: validation, jobs, isolation, delete."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers.model_files import (
    CNN_LAYERS,
    REJECTION_REASONS,
    TINY_RUN,
    unusable_files,
)
from tests.helpers.service_stack import (
    MODEL_UPLOAD_CAP_BYTES,
    OTHER_API_KEY,
    Stack,
)


@pytest.fixture(scope="module")
def model_files(
    tmp_path_factory: pytest.TempPathFactory, cnn_file: Path
) -> Iterator[dict[str, Path]]:
    folder = tmp_path_factory.mktemp("model-files")
    return {"cnn": cnn_file, **unusable_files(folder, cnn_file)}


@pytest.fixture(scope="module")
def ready_model(uploaded_cnn: tuple[httpx.Response, dict[str, Any]]) -> dict[str, Any]:
    return uploaded_cnn[1]


def test_upload_is_validated_and_catalogued(
    local_stack: Stack, uploaded_cnn: tuple[httpx.Response, dict[str, Any]]
):
    response, model = uploaded_cnn
    accepted = response.json()
    assert accepted["status"] == "validating"
    assert accepted["input_range"] == "caffe"
    assert accepted["name"] == "cnn"
    assert accepted["created_at"]
    assert response.headers["Location"] == f"/v1/models/{accepted['id']}"

    assert model["id"] == accepted["id"]
    assert model["status"] == "ready"
    assert model["reason"] is None
    assert {layer["name"]: layer["channels"] for layer in model["layers"]} == CNN_LAYERS
    assert all(layer["min_image_size"] == 32 for layer in model["layers"])
    assert model["input_size"] is None

    listed = {entry["id"]: entry for entry in local_stack.get("/v1/models").json()}
    assert listed["resnet50v2"]["kind"] == "builtin"
    assert listed[accepted["id"]]["kind"] == "uploaded"
    assert listed[accepted["id"]]["layer_count"] == len(CNN_LAYERS)


def test_jobs_layer_jobs_and_comparisons_run_on_an_uploaded_model(
    local_stack: Stack, ready_model: dict[str, Any]
):
    model = ready_model["id"]
    job = local_stack.submit(
        "/v1/jobs", {"model": model, "layer": "conv_b", "filter": 5, **TINY_RUN}
    )
    layer_job = local_stack.submit(
        "/v1/layer-jobs", {"model": model, "layer": "conv_a", "filters": [0, 1, 2], **TINY_RUN}
    )
    comparison_run = {key: value for key, value in TINY_RUN.items() if key != "tv_weight"}
    comparison = local_stack.submit(
        "/v1/comparisons",
        {"model": model, "layer": "conv_b", "filter": 1, "tv_weights": [0, 0.001]} | comparison_run,
    )
    for created in (job, layer_job, comparison):
        finished = local_stack.wait(created["id"])
        assert finished["status"] == "succeeded", finished.get("error")
    assert len(local_stack.wait(job["id"])["snapshots"]) == 1


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"layer": "dense"}, "layer", "has no layer 'dense'"),
        ({"layer": "conv_b", "filter": 16}, "filter", "has 16 channels"),
        ({"objective": [{"kind": "class_logit"}]}, "objective", "uploaded models have none"),
    ],
)
def test_specs_are_checked_against_the_uploaded_model(
    local_stack: Stack,
    ready_model: dict[str, Any],
    change: dict[str, Any],
    field: str,
    message: str,
):
    body = {"model": ready_model["id"], "layer": "conv_a", "filter": 0, **TINY_RUN} | change
    response = local_stack.post("/v1/jobs", json=body)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["errors"][0]["field"] == field
    assert message in problem["errors"][0]["message"]


@pytest.mark.parametrize(("file", "reason"), sorted(REJECTION_REASONS.items()))
def test_unusable_models_are_rejected_with_their_reason(
    local_stack: Stack, model_files: dict[str, Path], file: str, reason: str
):
    response = local_stack.upload(model_files[file])
    assert response.status_code == 202, response.text
    model = local_stack.validated(response.json()["id"])
    assert model["status"] == "rejected"
    assert reason in model["reason"]
    job = local_stack.post("/v1/jobs", json={"model": model["id"], "layer": "conv", **TINY_RUN})
    assert job.status_code == 422
    assert "was rejected" in job.json()["errors"][0]["message"]


def test_a_file_over_the_cap_is_refused(local_stack: Stack, tmp_path: Path):
    big = tmp_path / "big.keras"
    big.write_bytes(b"\0" * (MODEL_UPLOAD_CAP_BYTES + 1))
    response = local_stack.upload(big)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert str(MODEL_UPLOAD_CAP_BYTES) in response.json()["detail"]


def test_upload_fields_are_validated(local_stack: Stack, model_files: dict[str, Path]):
    response = local_stack.upload(model_files["cnn"], input_range="[0,2]")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "input_range"


def test_another_key_cannot_see_use_or_delete_a_model(
    local_stack: Stack, ready_model: dict[str, Any]
):
    model = ready_model["id"]
    assert local_stack.get(f"/v1/models/{model}", key=OTHER_API_KEY).status_code == 404
    deleted = local_stack.client.delete(
        f"/v1/models/{model}", headers=local_stack.auth(OTHER_API_KEY)
    )
    assert deleted.status_code == 404
    listed = [entry["id"] for entry in local_stack.get("/v1/models", key=OTHER_API_KEY).json()]
    assert model not in listed
    body = {"model": model, "layer": "conv_a", "filter": 0, **TINY_RUN}
    job = local_stack.post("/v1/jobs", key=OTHER_API_KEY, json=body)
    assert job.status_code == 422
    assert job.json()["errors"][0]["field"] == "model"
    assert local_stack.get(f"/v1/models/{model}").json()["status"] == "ready"


def test_deleting_a_model_fails_the_jobs_queued_on_it(
    local_stack: Stack, model_files: dict[str, Path]
):
    model = local_stack.validated(local_stack.upload(model_files["cnn"]).json()["id"])["id"]
    # The one worker runs the long job while the short one waits in the queue behind it.
    long_run = TINY_RUN | {"iterations": 10_000, "snapshots": []}
    blocker = local_stack.submit(
        "/v1/jobs", {"model": model, "layer": "conv_a", "filter": 0} | long_run
    )
    local_stack.wait(blocker["id"], ("running",))
    queued = local_stack.submit(
        "/v1/jobs", {"model": model, "layer": "conv_a", "filter": 1, **TINY_RUN}
    )

    deleted = local_stack.client.delete(f"/v1/models/{model}", headers=local_stack.auth())
    assert deleted.status_code == 204
    assert local_stack.get(f"/v1/models/{model}").status_code == 404
    local_stack.post(f"/v1/jobs/{blocker['id']}/cancel")

    failed = local_stack.wait(queued["id"])
    assert failed["status"] == "failed"
    assert failed["error"]["type"] == "urn:featviz:problem:model-unavailable"
    assert "was deleted" in failed["error"]["detail"]


def test_uploads_go_through_s3(s3_stack: Stack, model_files: dict[str, Path]):
    response = s3_stack.upload(model_files["cnn"])
    assert response.status_code == 202, response.text
    model = s3_stack.validated(response.json()["id"])
    assert model["status"] == "ready", model
    job = s3_stack.submit(
        "/v1/jobs", {"model": model["id"], "layer": "conv_a", "filter": 1, **TINY_RUN}
    )
    assert s3_stack.wait(job["id"])["status"] == "succeeded"
    assert (
        s3_stack.client.delete(f"/v1/models/{model['id']}", headers=s3_stack.auth()).status_code
        == 204
    )
