"""``featviz up``: the whole stack from one command, a first job, and Ctrl-C stops it all."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.helpers.service_stack import eventually, free_port
from tests.helpers.terminal import ctrl_c_as_in_a_terminal


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_up_serves_a_job_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port, redis_port = free_port(), free_port()
    command = [
        sys.executable, "-m", "featviz_cli", "up", "--port", str(port), "--redis-port",
        str(redis_port), "--data-dir", str(tmp_path / "data"), "--api-key", "up-test-key",
    ]  # fmt: skip
    environment = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "2"}
    log = (tmp_path / "up.log").open("wb")
    up = subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=environment,
        preexec_fn=ctrl_c_as_in_a_terminal,
    )
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": "Bearer up-test-key"}
    try:

        def healthy() -> bool | None:
            assert up.poll() is None, (tmp_path / "up.log").read_text()
            try:
                return httpx.get(f"{base}/readyz").status_code == 200 or None
            except httpx.TransportError:
                return None

        eventually(healthy, 60, "featviz up to answer")
        spec = {"weights": "random", "layer": "conv3_block1_out", "image_size": 64,
                "iterations": 12, "snapshots": [5, 10]}  # fmt: skip
        created = httpx.post(f"{base}/v1/jobs", json=spec, headers=headers)
        assert created.status_code == 202, created.text

        def finished() -> Any:
            job = httpx.get(f"{base}{created.headers['location']}", headers=headers).json()
            return job if job["status"] in ("succeeded", "failed", "canceled") else None

        job = eventually(finished, 120, "the job")
        assert job["status"] == "succeeded", job["error"]
        picture = httpx.get(job["snapshots"][0]["url"])
        assert picture.status_code == 200
        assert picture.headers["content-type"] == "image/png"
        stored = tmp_path / "data" / "storage" / job["id"] / "filter_0001" / "iter_0005.png"
        assert stored.is_file()
        assert (tmp_path / "data" / "redis").is_dir()
        printed = (tmp_path / "up.log").read_text()
        assert "API key: up-test-key" in printed
    finally:
        up.send_signal(signal.SIGINT)
        code = up.wait(timeout=60)
        log.close()
    assert code == 0
    assert not port_open(port), "the API stopped"
    assert not port_open(redis_port), "redis-server stopped"
