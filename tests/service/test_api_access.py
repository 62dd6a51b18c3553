"""Keys, isolation between keys, idempotent creates, listing, limits, models and health."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from api.main import create_app
from featviz.settings import hash_api_key
from tests.helpers.service_stack import (
    API_KEY,
    OTHER_API_KEY,
    Stack,
    free_port,
    service_environment,
    settings_from,
)

QUICK = {
    "weights": "random",
    "layer": "conv3_block1_out",
    "image_size": 64,
    "iterations": 2,
    "snapshots": [1],
}


def is_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert problem["title"]
    return problem


def test_create_answers_202_with_location(local_stack: Stack) -> None:
    response = local_stack.post("/v1/jobs", json=QUICK)
    assert response.status_code == 202
    job = response.json()
    assert response.headers["location"] == f"/v1/jobs/{job['id']}"
    assert local_stack.get(response.headers["location"]).json()["id"] == job["id"]
    layer = local_stack.post("/v1/layer-jobs", json=QUICK | {"filters": [0, 1]})
    assert layer.headers["location"] == f"/v1/layer-jobs/{layer.json()['id']}"
    assert local_stack.get(layer.headers["location"]).status_code == 200
    # A layer job is not a comparison.
    is_problem(local_stack.get(f"/v1/comparisons/{layer.json()['id']}"), 404)


def test_missing_or_wrong_key_is_401(local_stack: Stack) -> None:
    client = local_stack.client
    missing = client.post("/v1/jobs", json=QUICK)
    is_problem(missing, 401)
    assert missing.headers["www-authenticate"].startswith("Bearer")
    is_problem(client.get("/v1/jobs", headers={"Authorization": "Bearer not-a-key"}), 401)
    is_problem(client.get("/v1/jobs", headers={"Authorization": f"Basic {API_KEY}"}), 401)
    is_problem(client.get("/v1/models"), 401)


def test_another_keys_job_is_404(local_stack: Stack) -> None:
    job = local_stack.submit("/v1/jobs", QUICK)
    path = f"/v1/jobs/{job['id']}"
    assert local_stack.get(path).status_code == 200
    is_problem(local_stack.get(path, key=OTHER_API_KEY), 404)
    is_problem(local_stack.post(f"{path}/cancel", key=OTHER_API_KEY), 404)
    listed = local_stack.get("/v1/jobs", key=OTHER_API_KEY, params={"limit": 100}).json()
    assert job["id"] not in [item["id"] for item in listed["items"]]
    is_problem(local_stack.get("/v1/jobs/does-not-exist"), 404)


def test_idempotent_replay_returns_the_same_job(local_stack: Stack) -> None:
    owner = hash_api_key(API_KEY)
    before = local_stack.store.count_owned(owner)
    key = {"Idempotency-Key": "replay-1"}
    first = local_stack.post("/v1/jobs", json=QUICK, headers=key)
    second = local_stack.post("/v1/jobs", json=QUICK, headers=key)
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    assert first.headers["location"] == second.headers["location"]
    assert local_stack.store.count_owned(owner) == before + 1

    conflict = local_stack.post("/v1/jobs", json=QUICK | {"seed": 7}, headers=key)
    problem = is_problem(conflict, 422)
    assert problem["errors"][0]["field"] == "Idempotency-Key"
    assert local_stack.store.count_owned(owner) == before + 1

    # Keys are per API key: another caller's same key makes its own job.
    other = local_stack.post("/v1/jobs", json=QUICK, headers=key, key=OTHER_API_KEY)
    assert other.status_code == 202
    assert other.json()["id"] != first.json()["id"]


def test_list_pages_newest_first_and_filters_by_status(local_stack: Stack) -> None:
    created = [local_stack.submit("/v1/jobs", QUICK | {"seed": n})["id"] for n in range(3)]
    first = local_stack.get("/v1/jobs", params={"limit": 2}).json()
    assert [item["id"] for item in first["items"]] == created[::-1][:2]
    assert first["next_cursor"] == created[1]
    second = local_stack.get("/v1/jobs", params={"limit": 2, "cursor": first["next_cursor"]})
    assert second.json()["items"][0]["id"] == created[0]

    canceled = local_stack.submit("/v1/jobs", QUICK | {"iterations": 10_000, "snapshots": []})
    local_stack.post(f"/v1/jobs/{canceled['id']}/cancel")
    local_stack.wait(canceled["id"], timeout_s=60)
    page = local_stack.get("/v1/jobs", params={"status": "canceled", "limit": 100}).json()
    assert canceled["id"] in [item["id"] for item in page["items"]]
    assert {item["status"] for item in page["items"]} == {"canceled"}
    is_problem(local_stack.get("/v1/jobs", params={"status": "lost"}), 422)
    is_problem(local_stack.get("/v1/jobs", params={"limit": 0}), 422)


def test_body_over_the_limit_is_413(local_stack: Stack) -> None:
    limit = local_stack.settings.max_body_bytes
    declared = local_stack.post("/v1/jobs", json=QUICK | {"layer": "x" * limit})
    is_problem(declared, 413)

    def chunks() -> Iterator[bytes]:
        yield b'{"layer": "'
        for _ in range(limit // 1000 + 1):
            yield b"x" * 1000
        yield b'"}'

    streamed = local_stack.post(
        "/v1/jobs", content=chunks(), headers={"Content-Type": "application/json"}
    )
    is_problem(streamed, 413)


def test_models_list_and_detail(local_stack: Stack) -> None:
    models = local_stack.get("/v1/models").json()
    resnet = next(model for model in models if model["name"] == "resnet50v2")
    assert resnet["input_size"] == 224
    assert resnet["layer_count"] > 100
    detail = local_stack.get("/v1/models/resnet50v2").json()
    layers = {layer["name"]: layer for layer in detail["layers"]}
    assert layers["conv5_block1_out"]["channels"] == 2048
    assert layers["conv3_block1_out"]["channels"] == 512
    assert (
        layers["conv5_block1_out"]["min_image_size"] > layers["conv3_block1_out"]["min_image_size"]
    )
    is_problem(local_stack.get("/v1/models/alexnet"), 404)


def test_health_and_readiness(local_stack: Stack) -> None:
    assert local_stack.client.get("/healthz").json() == {"status": "ok"}
    ready = local_stack.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["redis"] == "ok"


def test_redis_down_gives_503_problems_not_500(tmp_path: Path) -> None:
    environment = service_environment(
        f"redis://127.0.0.1:{free_port()}/0", "featviz-nowhere", str(tmp_path / "files")
    )
    with TestClient(create_app(settings_from(environment))) as client:
        ready = is_problem(client.get("/readyz"), 503)
        assert "redis" in ready["detail"]
        headers = {"Authorization": f"Bearer {API_KEY}"}
        is_problem(client.post("/v1/jobs", json=QUICK, headers=headers), 503)
        is_problem(client.get("/v1/jobs", headers=headers), 503)


def test_openapi_documents_every_route_and_problem_answers(local_stack: Stack) -> None:
    schema = local_stack.client.get("/openapi.json").json()
    for path in ("/v1/jobs", "/v1/jobs/{job_id}/cancel", "/v1/layer-jobs", "/v1/comparisons",
                 "/v1/models/{name}", "/healthz", "/readyz", "/metrics"):  # fmt: skip
        assert path in schema["paths"], path
    create = schema["paths"]["/v1/jobs"]["post"]["responses"]
    assert "application/problem+json" in create["422"]["content"]
    assert "202" in create
