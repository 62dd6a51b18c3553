"""The compose file and the Dockerfiles agree with the code: settings names, ports, commands.

No Docker engine runs on these machines, so the files are checked by reading them.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

import pytest
import yaml

from featviz.settings import Settings
from featviz_cli import build_parser
from tests.helpers.paths import REPO_ROOT

COMPOSE = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
SETTINGS_VARIABLES = {f"FEATVIZ_{name.upper()}" for name in Settings.model_fields}


def dockerfile(name: str) -> str:
    return (REPO_ROOT / name).read_text()


def instruction(text: str, keyword: str) -> list[str]:
    """The exec-form arguments of the last ``keyword`` instruction (line continuations joined)."""
    joined = text.replace("\\\n", " ")
    lines = [line for line in joined.splitlines() if line.startswith(f"{keyword} ")]
    assert lines, f"no {keyword} instruction"
    body = lines[-1][len(keyword) + 1 :].strip()
    if body.startswith("CMD "):  # HEALTHCHECK options... CMD [...]
        body = body[4:]
    parsed = yaml.safe_load(body[body.index("[") :])
    assert isinstance(parsed, list)
    return [str(part) for part in parsed]


@pytest.mark.parametrize("service", ["api", "worker"])
def test_every_environment_variable_is_a_setting(service: str) -> None:
    environment = SERVICES[service]["environment"]
    names = set(environment)
    assert names <= SETTINGS_VARIABLES, names - SETTINGS_VARIABLES
    for required in ("FEATVIZ_REDIS_URL", "FEATVIZ_STORAGE_URL", "FEATVIZ_SIGNING_SECRET"):
        assert required in names
    assert environment["FEATVIZ_STORAGE_URL"].startswith("s3://")
    assert "FEATVIZ_DEV_MODE" not in names  # production refuses default secrets


def test_redis_persists_and_never_evicts() -> None:
    command = SERVICES["redis"]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"
    url = SERVICES["api"]["environment"]["FEATVIZ_REDIS_URL"]
    assert url.startswith("redis://redis:6379")


def test_bucket_is_created_privately_before_the_service_starts() -> None:
    script = " ".join(SERVICES["s3-bucket"]["entrypoint"])
    bucket = (
        SERVICES["api"]["environment"]["FEATVIZ_STORAGE_URL"].removeprefix("s3://").split("/")[0]
    )
    assert f"mb --ignore-existing store/{bucket}" in script
    assert f"anonymous set none store/{bucket}" in script
    endpoint = SERVICES["api"]["environment"]["FEATVIZ_S3_ENDPOINT_URL"]
    assert endpoint == "http://s3:9000"


@pytest.mark.parametrize("service", ["api", "worker"])
def test_dependencies_wait_for_health(service: str) -> None:
    depends = SERVICES[service]["depends_on"]
    assert depends["redis"]["condition"] == "service_healthy"
    assert depends["s3-bucket"]["condition"] == "service_completed_successfully"
    for name in depends:
        if depends[name]["condition"] == "service_healthy":
            assert "healthcheck" in SERVICES[name], name


def test_worker_reserves_a_gpu() -> None:
    devices = SERVICES["worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]


def test_flower_is_optional_and_behind_basic_auth() -> None:
    flower = SERVICES["flower"]
    assert flower["profiles"] == ["flower"]
    assert any(part.startswith("--basic-auth=") for part in flower["command"])


def test_api_image_runs_the_api_command_on_the_published_port() -> None:
    text = dockerfile("Dockerfile.api")
    command = instruction(text, "CMD")
    assert command[:2] == ["featviz", "api"]
    port = command[command.index("--port") + 1]
    assert f"EXPOSE {port}" in text
    assert SERVICES["api"]["ports"] == [f"{port}:{port}"]
    # the CLI accepts exactly these arguments
    build_parser().parse_args(command[1:])
    health = instruction(text, "HEALTHCHECK")
    assert f"127.0.0.1:{port}/healthz" in " ".join(health)


def test_api_image_has_no_tensorflow_and_runs_as_non_root() -> None:
    text = dockerfile("Dockerfile.api")
    installs = re.findall(r"pip install [^\n]*", text)
    assert installs
    assert all(
        "engine" not in line and "gpu" not in line and "tensorflow" not in line for line in installs
    )
    assert "featviz_engine" not in text
    assert re.search(r"^USER (?!root)\w+", text, re.MULTILINE)


def test_worker_image_bakes_weights_and_serves_the_configured_queue() -> None:
    text = dockerfile("Dockerfile.worker")
    assert "tensorflow[and-cuda]==2.21.0" in text
    assert "RUN python scripts/fetch_weights.py" in text
    assert "ENV FEATVIZ_OFFLINE=1" in text
    assert re.search(r"^USER (?!root)\w+", text, re.MULTILINE)
    command = instruction(text, "CMD")
    assert command[:4] == ["celery", "-A", "worker.app", "worker"]
    assert "--prefetch-multiplier=1" in command
    assert "--concurrency=1" in command
    queue = command[command.index("-Q") + 1]
    assert queue == Settings.model_fields["queue"].default
    assert queue == SERVICES["worker"]["environment"]["FEATVIZ_QUEUE"]


def test_copied_folders_exist() -> None:
    for name in ("Dockerfile.api", "Dockerfile.worker"):
        for line in dockerfile(name).splitlines():
            if line.startswith("COPY ") and "--from" not in line:
                for source in shlex.split(line)[1:-1]:
                    assert (REPO_ROOT / source).exists(), f"{name}: {source}"
