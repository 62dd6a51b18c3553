"""The OpenAPI document: stable operation ids, every error a problem, headers declared."""

from __future__ import annotations

import re
from typing import Any

import pytest

from api.errors import PROBLEM_MEDIA_TYPE
from api.main import create_app
from tests.helpers.service_stack import free_port, service_environment, settings_from

# A generated client's method names: renaming one is a breaking change, made here on purpose.
OPERATION_IDS = {
    ("get", "/healthz"): "get_health",
    ("get", "/readyz"): "get_readiness",
    ("get", "/metrics"): "get_metrics",
    ("post", "/v1/jobs"): "create_job",
    ("get", "/v1/jobs"): "list_jobs",
    ("get", "/v1/jobs/{job_id}"): "get_job",
    ("post", "/v1/jobs/{job_id}/cancel"): "cancel_job",
    ("get", "/v1/jobs/{job_id}/events"): "get_job_events",
    ("post", "/v1/layer-jobs"): "create_layer_job",
    ("get", "/v1/layer-jobs/{job_id}"): "get_layer_job",
    ("post", "/v1/layer-jobs/{job_id}/cancel"): "cancel_layer_job",
    ("post", "/v1/comparisons"): "create_comparison",
    ("get", "/v1/comparisons/{job_id}"): "get_comparison",
    ("post", "/v1/comparisons/{job_id}/cancel"): "cancel_comparison",
    ("post", "/v1/exemplar-jobs"): "create_exemplar_job",
    ("get", "/v1/exemplar-jobs/{job_id}"): "get_exemplar_job",
    ("post", "/v1/exemplar-jobs/{job_id}/cancel"): "cancel_exemplar_job",
    ("get", "/v1/models"): "list_models",
    ("post", "/v1/models"): "upload_model",
    ("get", "/v1/models/{name}"): "get_model",
    ("delete", "/v1/models/{name}"): "delete_model",
    ("get", "/v1/datasets"): "list_datasets",
    ("post", "/v1/datasets"): "upload_dataset",
    ("get", "/v1/datasets/{dataset_id}"): "get_dataset",
    ("delete", "/v1/datasets/{dataset_id}"): "delete_dataset",
    ("get", "/v1/files/{key}"): "download_file",
    ("get", "/v1/webhook-secret"): "get_webhook_secret",
}
CREATE_PATHS = ("/v1/jobs", "/v1/layer-jobs", "/v1/comparisons", "/v1/exemplar-jobs")
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    # The document needs no Redis: an address where none listens shows it is not asked.
    files = str(tmp_path_factory.mktemp("openapi") / "files")
    environment = service_environment(f"redis://127.0.0.1:{free_port()}/0", "featviz-doc", files)
    document: dict[str, Any] = create_app(settings_from(environment)).openapi()
    return document


def operations(schema: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method, path): operation
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    }


def test_operation_ids_are_the_checked_snake_case_names(schema: dict[str, Any]) -> None:
    ids = {key: operation["operationId"] for key, operation in operations(schema).items()}
    assert ids == OPERATION_IDS
    assert len(set(ids.values())) == len(ids)
    assert all(re.fullmatch(r"[a-z]+(_[a-z]+)*", name) for name in ids.values())


def test_every_error_is_declared_as_a_problem_only(schema: dict[str, Any]) -> None:
    for key, operation in operations(schema).items():
        for code, response in operation["responses"].items():
            if int(code) >= 400:
                assert response["content"] == {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_REF}}, key
    components = schema["components"]["schemas"]
    assert "HTTPValidationError" not in components
    assert components["Problem"]["properties"]["errors"]["anyOf"][0]["items"] == {
        "$ref": "#/components/schemas/FieldProblem"
    }


def declared_errors(schema: dict[str, Any], method: str, path: str) -> set[int]:
    responses = schema["paths"][path][method]["responses"]
    return {int(code) for code in responses if int(code) >= 400}


def test_each_route_declares_the_errors_it_can_answer(schema: dict[str, Any]) -> None:
    authenticated = {401, 429, 503}
    for path in CREATE_PATHS:
        assert declared_errors(schema, "post", path) == authenticated | {413, 422}
    for path in ("/v1/jobs/{job_id}", "/v1/layer-jobs/{job_id}", "/v1/comparisons/{job_id}"):
        assert declared_errors(schema, "get", path) == authenticated | {404, 422}
        assert declared_errors(schema, "post", f"{path}/cancel") == authenticated | {404, 409, 422}
    assert declared_errors(schema, "post", "/v1/models") == authenticated | {400, 413, 422}
    assert declared_errors(schema, "delete", "/v1/models/{name}") == authenticated | {
        403,
        404,
        422,
    }
    assert declared_errors(schema, "get", "/v1/models") == authenticated
    assert declared_errors(schema, "get", "/metrics") == authenticated
    assert declared_errors(schema, "get", "/readyz") == {503}
    assert declared_errors(schema, "get", "/healthz") == set()
    assert declared_errors(schema, "get", "/v1/files/{key}") == {403, 404, 422}


def test_create_routes_declare_the_idempotency_key_header(schema: dict[str, Any]) -> None:
    for path in CREATE_PATHS:
        (header,) = schema["paths"][path]["post"]["parameters"]
        assert header["in"] == "header"
        assert header["name"] == "Idempotency-Key"
        assert header["required"] is False
        assert {"type": "string", "minLength": 1, "maxLength": 255} in header["schema"]["anyOf"]
