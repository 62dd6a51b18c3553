"""A client generated from the live ``/openapi.json`` by openapi-python-client runs a job.

The generator lives in a virtual environment of its own under ``.cache/`` (made on the first run,
reused after), so its dependencies never touch the project's pins. The client it writes needs
only httpx, attrs and python-dateutil, which the project's environment has.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import time
import venv
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.helpers.paths import CACHE_DIR
from tests.helpers.service_stack import API_KEY, QUICK_JOB

GENERATOR = "openapi-python-client==0.29.1"
GENERATOR_VENV = CACHE_DIR / GENERATOR.replace("==", "-")
PACKAGE = "featviz_openapi_client"  # not featviz_client, the project's own SDK
CONFIG = f"package_name_override: {PACKAGE}\nproject_name_override: featviz-openapi-client\n"
TERMINAL = {"succeeded", "failed", "canceled"}


def generator_bin() -> Path:
    """The generator's ``bin`` folder, installed once into its own virtual environment."""
    # Written last, so an interrupted install is never taken for a finished one. (The venv is
    # made in place: its scripts name their interpreter by path, so it cannot be moved.)
    installed = GENERATOR_VENV / "installed"
    if not installed.exists():
        shutil.rmtree(GENERATOR_VENV, ignore_errors=True)
        venv.create(GENERATOR_VENV, with_pip=True)
        python = GENERATOR_VENV / "bin" / "python"
        subprocess.run(
            [python, "-m", "pip", "install", "--quiet", GENERATOR], check=True, timeout=600
        )
        installed.write_text(GENERATOR)
    return GENERATOR_VENV / "bin"


@pytest.fixture(scope="module")
def generated(api_url: str, tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """The generated package, imported."""
    folder = tmp_path_factory.mktemp("generated")
    (folder / "config.yaml").write_text(CONFIG)
    bin_folder = generator_bin()
    command = [
        str(bin_folder / "openapi-python-client"),
        "generate",
        "--url",
        f"{api_url}/openapi.json",
        "--config",
        str(folder / "config.yaml"),
        "--meta",
        "none",
        "--output-path",
        str(folder / PACKAGE),
    ]
    # Its post-generation hooks run the ruff installed beside it.
    environment = os.environ | {"PATH": f"{bin_folder}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        command, capture_output=True, text=True, env=environment, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # The generator warns about every part of the document it could not turn into code.
    assert "warning" not in (result.stdout + result.stderr).lower(), result.stdout
    sys.path.insert(0, str(folder))
    try:
        return importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))


def module(generated: ModuleType, name: str) -> Any:
    return importlib.import_module(f"{generated.__name__}.{name}")


def test_generated_client_runs_a_job_and_reads_problems(
    generated: ModuleType, api_url: str
) -> None:
    create_job = module(generated, "api.jobs.create_job")
    get_job = module(generated, "api.jobs.get_job")
    models = module(generated, "models")
    client = generated.AuthenticatedClient(base_url=api_url, token=API_KEY)

    spec = models.JobSpec.from_dict(QUICK_JOB)
    created = create_job.sync_detailed(client=client, body=spec, idempotency_key="generated-1")
    assert created.status_code == 202, created.content
    job = created.parsed
    assert isinstance(job, models.JobView)
    replay = create_job.sync(client=client, body=spec, idempotency_key="generated-1")
    assert isinstance(replay, models.JobView)
    assert replay.id == job.id

    deadline = time.monotonic() + 120
    while job.status not in TERMINAL:
        assert time.monotonic() < deadline, f"job {job.id} still {job.status}"
        time.sleep(0.5)
        job = get_job.sync(job.id, client=client)
        assert isinstance(job, models.JobView)
    assert job.status == "succeeded", job.to_dict()

    invalid = models.JobSpec.from_dict(QUICK_JOB | {"iterations": 0})
    refused = create_job.sync_detailed(client=client, body=invalid)
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.parsed
    assert isinstance(problem, models.Problem)
    assert problem.status == 422
    assert [error.field for error in problem.errors] == ["iterations"]

    missing = get_job.sync("no-such-job", client=client)
    assert isinstance(missing, models.Problem)
    assert missing.status == 404
