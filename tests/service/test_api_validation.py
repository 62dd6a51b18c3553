"""Bad requests are refused with a 422 problem naming the field, and nothing is recorded or
enqueued."""

from __future__ import annotations

import json
from typing import Any

import pytest

from featviz.settings import hash_api_key
from tests.helpers.service_stack import API_KEY, Stack, eventually

VALID_JOB = {
    "model": "resnet50v2",
    "weights": "random",
    "layer": "conv3_block1_out",
    "filter": 1,
    "image_size": 64,
    "iterations": 12,
    "snapshots": [5, 10],
}

BAD_JOBS: list[tuple[str, dict[str, Any], str]] = [
    ("no iterations", {"iterations": 0}, "iterations"),
    ("too many iterations", {"iterations": 10_001}, "iterations"),
    ("iterations as a string", {"iterations": "12"}, "iterations"),
    ("iterations as a boolean", {"iterations": True}, "iterations"),
    ("snapshot at the end", {"snapshots": [12]}, "snapshots"),
    ("51 snapshots", {"iterations": 100, "snapshots": list(range(51))}, "snapshots"),
    ("negative snapshot", {"snapshots": [-1]}, "snapshots.0"),
    ("image too small", {"image_size": 16}, "image_size"),
    ("image too large", {"image_size": 1024}, "image_size"),
    ("map too small", {"layer": "conv5_block1_out", "image_size": 64}, "image_size"),
    ("zero learning rate", {"learning_rate": 0}, "learning_rate"),
    ("infinite learning rate", {"learning_rate": float("inf")}, "learning_rate"),
    ("NaN TV weight", {"tv_weight": float("nan")}, "tv_weight"),
    ("learning rate as a string", {"learning_rate": "NaN"}, "learning_rate"),
    ("negative TV weight", {"tv_weight": -0.1}, "tv_weight"),
    ("unknown TV mode", {"tv_mode": "gaussian"}, "tv_mode"),
    ("unknown model", {"model": "alexnet"}, "model"),
    ("unknown weights", {"weights": "caffe"}, "weights"),
    ("trained VGG16 weights on another model", {"weights": "hed-bsds500"}, "weights"),
    ("unknown layer", {"layer": "conv9_block1_out"}, "layer"),
    ("filter beyond the layer", {"filter": 512}, "filter"),
    ("negative filter", {"filter": -1}, "filter"),
    ("negative seed", {"seed": -5}, "seed"),
    ("unknown field", {"colour": "red"}, "colour"),
    ("time budget over the cap", {"time_budget_s": 1e9}, "time_budget_s"),
]

BAD_OTHERS: list[tuple[str, str, dict[str, Any], str]] = [
    ("repeated filters", "/v1/layer-jobs", {"filters": [1, 1]}, "filters"),
    ("empty range", "/v1/layer-jobs", {"filter_range": {"start": 5, "stop": 5}}, "filter_range"),
    ("range beyond the layer", "/v1/layer-jobs", {"filter_range": {"start": 0, "stop": 513}},
     "filter_range"),
    ("list and range", "/v1/layer-jobs", {"filters": [1], "filter_range": {"start": 0, "stop": 2}},
     "filter_range"),
    ("zero pack size", "/v1/layer-jobs", {"filters": [1], "pack_size": 0}, "pack_size"),
    ("no TV weights", "/v1/comparisons", {"tv_weights": []}, "tv_weights"),
    ("negative TV weight", "/v1/comparisons", {"tv_weights": [0.1, -1]}, "tv_weights.1"),
    ("repeated TV weight", "/v1/comparisons", {"tv_weights": [0.1, 0.1]}, "tv_weights"),
]  # fmt: skip


def counts(stack: Stack) -> tuple[int, int, int]:
    """Queue length, the key's jobs, and all jobs by status."""
    owned = stack.store.count_owned(hash_api_key(API_KEY))
    return stack.queue_length(), owned, sum(stack.store.status_counts().values())


@pytest.fixture
def idle_stack(local_stack: Stack) -> Stack:
    """The stack once its queue is empty, so that the counts only move if a test enqueues."""
    eventually(lambda: local_stack.queue_length() == 0 or None, 120, "an empty queue")
    return local_stack


def post_json(stack: Stack, path: str, body: dict[str, Any]) -> Any:
    """POST a body as Python's json writes it: NaN and Infinity included, as some clients do."""
    headers = {"Content-Type": "application/json"}
    return stack.post(path, content=json.dumps(body), headers=headers)


def assert_names_field(response: Any, field: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422
    assert problem["title"] == "Invalid request"
    assert field in [error["field"] for error in problem["errors"]], problem
    assert field in problem["detail"]
    # Messages are the validators' own words, not pydantic's "Value error, ..." wrapping.
    assert not any(error["message"].startswith("Value error") for error in problem["errors"])


@pytest.mark.parametrize(
    ("change", "field"), [c[1:] for c in BAD_JOBS], ids=[c[0] for c in BAD_JOBS]
)
def test_bad_job_is_refused_naming_the_field(
    idle_stack: Stack, change: dict[str, Any], field: str
) -> None:
    before = counts(idle_stack)
    assert_names_field(post_json(idle_stack, "/v1/jobs", VALID_JOB | change), field)
    assert counts(idle_stack) == before


@pytest.mark.parametrize(
    ("path", "change", "field"), [c[1:] for c in BAD_OTHERS], ids=[c[0] for c in BAD_OTHERS]
)
def test_bad_layer_job_or_comparison_is_refused_naming_the_field(
    idle_stack: Stack, path: str, change: dict[str, Any], field: str
) -> None:
    body = {k: v for k, v in VALID_JOB.items() if k != "filter"} | change
    before = counts(idle_stack)
    assert_names_field(post_json(idle_stack, path, body), field)
    assert counts(idle_stack) == before


@pytest.mark.parametrize(
    "content",
    [b"{not json", b'{"learning_rate": NaN}', b"[1, 2]", b'"a string"'],
    ids=["broken JSON", "NaN literal", "a list", "a string"],
)
def test_body_that_is_not_a_spec_is_refused(idle_stack: Stack, content: bytes) -> None:
    before = counts(idle_stack)
    response = idle_stack.post(
        "/v1/jobs", content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"]
    assert counts(idle_stack) == before


@pytest.mark.parametrize("path", ["/v1/jobs", "/v1/layer-jobs", "/v1/comparisons"])
def test_malformed_json_is_refused_naming_the_body(idle_stack: Stack, path: str) -> None:
    """Not a field's fault: the problem names the body, not the character FastAPI stopped at."""
    before = counts(idle_stack)
    response = idle_stack.post(
        path,
        content=b'{"layer": "conv3_block1_out",}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert (problem["type"], problem["title"]) == (
        "urn:featviz:problem:invalid-json",
        "Invalid JSON",
    )
    assert [error["field"] for error in problem["errors"]] == ["body"]
    assert problem["detail"].startswith("the body is not valid JSON: Expecting property name")
    assert "(at offset 29)" in problem["detail"]
    assert counts(idle_stack) == before


def test_a_valid_job_does_move_the_counts(idle_stack: Stack) -> None:
    """The check the refusals rely on: a job that is accepted shows in both counts."""
    queue_before, owned_before, all_before = counts(idle_stack)
    idle_stack.submit("/v1/jobs", VALID_JOB)
    _, owned_after, all_after = counts(idle_stack)
    assert (owned_after, all_after) == (owned_before + 1, all_before + 1)
    assert queue_before == 0


def test_the_recommended_preset_is_accepted_and_recorded_resolved(idle_stack: Stack) -> None:
    """A preset sets the fields left unset, and the record holds what the job runs with."""
    created = idle_stack.submit("/v1/jobs", VALID_JOB | {"preset": "recommended"})
    record = idle_stack.store.get(created["id"])
    assert record is not None
    assert record.spec["preset"] == "recommended"
    assert record.spec["parameterization"] == "fourier"
    assert record.spec["tv_weight"] == 0
    assert created["spec"] == record.spec
