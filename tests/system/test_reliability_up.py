"""``featviz up`` starts a worker again when it dies, and the job it was running runs again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers.reliability_stack import LONG_JOB
from tests.helpers.service_stack import eventually, free_port

RecordProperty = Any
# Short leases, as in the other reliability tests; `featviz up` passes FEATVIZ_* on to its parts.
LEASES = {
    "FEATVIZ_HEARTBEAT_INTERVAL_S": "1",
    "FEATVIZ_LEASE_S": "4",
    "FEATVIZ_REAPER_INTERVAL_S": "0.5",
}


@pytest.mark.timeout(300)
def test_up_restarts_a_killed_worker_and_its_job_runs_again(
    tmp_path: Path, record_property: RecordProperty
) -> None:
    port = free_port()
    command = [
        sys.executable, "-m", "featviz_cli", "up", "--port", str(port), "--data-dir",
        str(tmp_path / "data"), "--api-key", "up-test-key",
    ]  # fmt: skip
    environment = os.environ | LEASES | {"TF_CPP_MIN_LOG_LEVEL": "2"}
    log_path = tmp_path / "up.log"
    with log_path.open("wb") as log:
        up = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment)
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": "Bearer up-test-key"}

    def job(job_id: str) -> dict[str, Any]:
        found: dict[str, Any] = httpx.get(f"{base}/v1/jobs/{job_id}", headers=headers).json()
        return found

    try:

        def ready() -> bool | None:
            assert up.poll() is None, log_path.read_text()
            try:
                return httpx.get(f"{base}/readyz").status_code == 200 or None
            except httpx.TransportError:
                return None

        eventually(ready, 60, "featviz up to answer")
        created = httpx.post(f"{base}/v1/jobs", json=LONG_JOB, headers=headers)
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]

        def running() -> dict[str, Any] | None:
            found = job(job_id)
            return found if found["status"] == "running" and found["snapshots"] else None

        victim = eventually(running, 120, "the job to run")["worker"]["pid"]
        os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic()

        def finished() -> dict[str, Any] | None:
            found = job(job_id)
            return found if found["status"] in ("succeeded", "failed", "canceled") else None

        done = eventually(finished, 120, "the job to run again")
        assert done["status"] == "succeeded", done["error"]
        assert done["attempts"] == 2
        assert done["worker"]["pid"] != victim
        assert up.poll() is None, "up kept running"
        assert "worker exited with -9; restarting it" in log_path.read_text()
        record_property("succeeded_s_after_kill", round(time.monotonic() - killed_at, 1))
    finally:
        up.send_signal(signal.SIGINT)
        code = up.wait(timeout=60)
    assert code == 0
