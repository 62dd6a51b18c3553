"""``featviz up`` starts a worker again when it dies, and the job it was running runs again; a
Ctrl-C stops it after its worker has handed its running job back."""

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

from featviz.store import JobStore
from featviz_cli.local_stack import start_redis
from tests.helpers.reliability_stack import LONG_JOB
from tests.helpers.service_stack import eventually, free_port
from tests.helpers.terminal import ctrl_c_as_in_a_terminal

RecordProperty = Any
# Short leases, as in the other reliability tests; `featviz up` passes FEATVIZ_* on to its parts.
LEASES = {
    "FEATVIZ_HEARTBEAT_INTERVAL_S": "1",
    "FEATVIZ_LEASE_S": "4",
    "FEATVIZ_REAPER_INTERVAL_S": "0.5",
}


class Up:
    """``featviz up`` as a child process in a session of its own, as a terminal runs it."""

    def __init__(self, folder: Path, **settings: str) -> None:
        self.port = free_port()
        self.data_dir = folder / "data"
        command = [
            sys.executable, "-m", "featviz_cli", "up", "--port", str(self.port), "--data-dir",
            str(self.data_dir), "--api-key", "up-test-key",
        ]  # fmt: skip
        environment = os.environ | LEASES | settings | {"TF_CPP_MIN_LOG_LEVEL": "2"}
        self.log_path = folder / "up.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=environment,
                start_new_session=True,
                preexec_fn=ctrl_c_as_in_a_terminal,
            )
        self.base = f"http://127.0.0.1:{self.port}"
        self.headers = {"Authorization": "Bearer up-test-key"}

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def job(self, job_id: str) -> dict[str, Any]:
        url = f"{self.base}/v1/jobs/{job_id}"
        found: dict[str, Any] = httpx.get(url, headers=self.headers).json()
        return found

    def submit_when_ready(self, body: dict[str, Any]) -> str:
        def ready() -> bool | None:
            assert self.process.poll() is None, self.log()
            try:
                return httpx.get(f"{self.base}/readyz").status_code == 200 or None
            except httpx.TransportError:
                return None

        eventually(ready, 60, "featviz up to answer")
        created = httpx.post(f"{self.base}/v1/jobs", json=body, headers=self.headers)
        assert created.status_code == 202, created.text
        job_id: str = created.json()["id"]
        return job_id

    def running(self, job_id: str) -> dict[str, Any]:
        """The job once it runs and has stored a snapshot."""

        def underway() -> dict[str, Any] | None:
            found = self.job(job_id)
            return found if found["status"] == "running" and found["snapshots"] else None

        return eventually(underway, 120, "the job to run")


@pytest.mark.timeout(300)
def test_up_restarts_a_killed_worker_and_its_job_runs_again(
    tmp_path: Path, record_property: RecordProperty
) -> None:
    up = Up(tmp_path)
    try:
        job_id = up.submit_when_ready(LONG_JOB)
        victim = up.running(job_id)["worker"]["pid"]
        os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic()

        def finished() -> dict[str, Any] | None:
            found = up.job(job_id)
            return found if found["status"] in ("succeeded", "failed", "canceled") else None

        done = eventually(finished, 120, "the job to run again")
        assert done["status"] == "succeeded", done["error"]
        assert done["attempts"] == 2
        assert done["worker"]["pid"] != victim
        assert up.process.poll() is None, "up kept running"
        assert "worker exited with -9; restarting it" in up.log()
        record_property("succeeded_s_after_kill", round(time.monotonic() - killed_at, 1))
    finally:
        up.process.send_signal(signal.SIGINT)
        code = up.process.wait(timeout=60)
    assert code == 0


@pytest.mark.timeout(300)
def test_ctrl_c_stops_up_after_its_worker_handed_its_job_back(
    tmp_path: Path, record_property: RecordProperty
) -> None:
    up = Up(tmp_path, FEATVIZ_DRAIN_GRACE_S="2")
    try:
        job_id = up.submit_when_ready({**LONG_JOB, "iterations": 1000})
        up.running(job_id)
    except BaseException:
        up.process.kill()
        raise
    # A terminal's Ctrl-C: SIGINT to every process of the foreground group, which is up's alone.
    os.killpg(up.process.pid, signal.SIGINT)
    stopped = time.monotonic()
    assert up.process.wait(timeout=60) == 0, up.log()
    record_property("up_exit_s_after_ctrl_c", round(time.monotonic() - stopped, 1))
    assert f"job {job_id}: handed back to the queue" in up.log()
    assert "exited with" not in up.log(), "nothing died: each part was stopped in turn"

    # Redis stopped last and kept the hand-back: the job waits, uncounted, with its task.
    port = free_port()
    redis_server = start_redis(port, up.data_dir / "redis", append_only=True)
    try:
        store = JobStore.from_url(f"redis://127.0.0.1:{port}/0")
        record = store.get(job_id)
        assert record is not None
        assert (record.status, record.attempts) == ("queued", 0)
        assert record.snapshots, "the snapshots it stored stay"
        assert store.redis.llen("featviz") == 1, "its task waits for the next worker"
        assert store.redis.hlen("unacked") == 0, "the interrupted delivery was acknowledged"
    finally:
        redis_server.terminate()
        redis_server.wait(timeout=10)
