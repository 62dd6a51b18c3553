"""``featviz submit | status | wait | cancel | download | layer | compare | models`` in a
subprocess, against the real stack over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.service_stack import API_KEY

SPEC_FLAGS = [
    "--weights", "random", "--layer", "conv3_block1_out", "--image-size", "64",
    "--iterations", "12", "--snapshots", "5,10", "--tv-start", "4",
]  # fmt: skip


def featviz(
    api_url: str, *args: str, key: str = API_KEY, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the CLI with the service named through the environment."""
    environment = os.environ | {"FEATVIZ_API_URL": api_url, "FEATVIZ_API_KEY": key}
    completed = subprocess.run(
        [sys.executable, "-m", "featviz_cli", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=180,
        check=False,
    )
    if check:
        assert completed.returncode == 0, completed.stderr
    return completed


def as_json(completed: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(completed.stdout)


def test_submit_wait_status_download(api_url: str, tmp_path: Path) -> None:
    created = as_json(featviz(api_url, "submit", *SPEC_FLAGS, "--filter", "4", "--json"))
    assert created["status"] in ("queued", "running")
    assert created["spec"]["filter"] == 4

    waited = featviz(api_url, "wait", created["id"], "--timeout", "120")
    assert f"{created['id']}  job  succeeded  iteration 12/12" in waited.stdout
    assert "(as displayed " in waited.stdout, "both activations, of the image and of its PNG"

    status = as_json(featviz(api_url, "status", created["id"], "--json"))
    assert [s["iteration"] for s in status["snapshots"]] == [5, 10]

    written = as_json(featviz(api_url, "download", created["id"], "--out", str(tmp_path), "--json"))
    assert str(tmp_path / "filter_0004" / "iter_0005.png") in written
    assert (tmp_path / "filter_0004" / "iter_0010.png").stat().st_size > 0

    finished = featviz(api_url, "cancel", created["id"], check=False)
    assert finished.returncode == 1
    assert "409 Conflict" in finished.stderr
    assert "already succeeded" in finished.stderr


def test_layer_and_compare_wait_for_their_sheets(api_url: str) -> None:
    layer = as_json(featviz(api_url, "layer", *SPEC_FLAGS, "--filters", "0-1", "--wait", "--json"))
    assert layer["status"] == "succeeded"
    assert layer["counts"]["succeeded"] == 2
    assert "sheet.png" in layer["files"]

    comparison = featviz(
        api_url, "compare", *SPEC_FLAGS, "--filter", "2", "--tv-weights", "0,0.001", "--wait"
    )
    assert "comparison  succeeded" in comparison.stdout
    assert "tv 0.001" in comparison.stdout


def test_cancel_a_queued_job(api_url: str) -> None:
    flags = [*SPEC_FLAGS, "--iterations", "5000", "--snapshots", "1"]
    created = as_json(featviz(api_url, "submit", *flags, "--json"))
    canceled = featviz(api_url, "cancel", created["id"])
    assert created["id"] in canceled.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["models"], "resnet50v2"),
        (["models", "resnet50v2"], "conv3_block1_out  512 channels  images >= "),
    ],
)
def test_models(api_url: str, args: list[str], expected: str) -> None:
    assert expected in featviz(api_url, *args).stdout


def test_errors_print_the_problem_and_exit_non_zero(api_url: str) -> None:
    invalid = featviz(api_url, "submit", *SPEC_FLAGS, "--filter", "100000", check=False)
    assert invalid.returncode == 2
    assert "422 Invalid request" in invalid.stderr
    assert "  filter: " in invalid.stderr

    missing = featviz(api_url, "status", "no-such-job", check=False)
    assert missing.returncode == 1
    assert "404 Not found" in missing.stderr

    unauthorized = featviz(api_url, "models", key="wrong", check=False)
    assert unauthorized.returncode == 1
    assert "401 Unauthorized" in unauthorized.stderr
    assert "unknown API key" in unauthorized.stderr


METHOD_FLAGS = [
    "--parameterization", "fourier", "--optimizer", "adam", "--transforms", "standard",
    "--objective", "channel:1,neuron:0.5", "--precision", "bfloat16",
]  # fmt: skip


def test_submit_takes_the_method_flags_of_render(api_url: str) -> None:
    small = ["--weights", "random", "--layer", "conv3_block1_out", "--image-size", "64"]
    method_job = [*small, "--iterations", "4", "--snapshots", "2", *METHOD_FLAGS, "--json"]
    created = as_json(featviz(api_url, "submit", *method_job))
    spec = created["spec"]
    assert spec["objective"] == [
        {"kind": "channel", "weight": 1.0},
        {"kind": "neuron", "weight": 0.5},
    ]
    assert (spec["parameterization"], spec["optimizer"], spec["precision"]) == (
        "fourier",
        "adam",
        "bfloat16",
    )
    assert (spec["learning_rate"], spec["tv_weight"]) == (0.05, 0.0)  # the method's defaults
    refused = featviz(
        api_url, "submit", "--parameterization", "fourier", "--tv-weight", "0.01", check=False
    )
    assert refused.returncode == 2
    assert "tv_weight" in refused.stderr
