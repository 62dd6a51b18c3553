"""Model files built to hurt, uploaded to a real worker: each is refused at once (one validation
attempt, no retry) with a reason naming what it broke, the worker's resident memory stays within
200 MB of where it was, and the same worker process then runs a job."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx

from featviz.user_models import ModelStore
from tests.helpers.hostile_files import HOSTILE
from tests.helpers.model_files import TINY_RUN
from tests.helpers.service_stack import Stack

RSS_BUDGET_BYTES = 200 * 1024**2
UPLOADED = [
    "memory bomb: Dense 20000 x 20000 (1.6 GB of kernel)",
    "zip bomb: 64 MiB of zeros in 64 KB",
    "declares 3.1 GB",
    "1001 entries more",
    "climbs out with ..",
    "nested zip",
    "not a zip",
    "weights not HDF5",
]
"""What the worker test uploads: every kind of check, once (test_safe_archive.py has the rest)."""


def memory(pid: int, field: str) -> int:
    """A ``/proc/PID/status`` memory line (VmRSS, VmHWM), in bytes."""
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(rf"^{field}:\s+(\d+) kB$", status, re.MULTILINE)
    assert found is not None, status
    return int(found.group(1)) * 1024


def test_hostile_files_are_refused_without_hurting_the_worker(
    local_stack: Stack,
    cnn_file: Path,
    uploaded_cnn: tuple[httpx.Response, dict[str, Any]],
    tmp_path: Path,
) -> None:
    files = {
        case: HOSTILE[case].build(cnn_file, tmp_path / f"{i}.keras")
        for i, case in enumerate(UPLOADED)
    }
    # After a good upload (uploaded_cnn): the worker is up, TensorFlow imported, a model ready.
    ready = uploaded_cnn[1]
    pid = local_stack.worker.pid
    resident_before = memory(pid, "VmRSS")
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM, the peak, counts from here
    uploads = {}
    for case, path in files.items():
        response = local_stack.upload(path)
        assert response.status_code == 202, (case, response.text)
        uploads[case] = response.json()["id"]

    for case, model_id in uploads.items():
        model = local_stack.validated(model_id, timeout_s=180)
        assert model["status"] == "rejected", (case, model)
        assert HOSTILE[case].reason in model["reason"], case
        record_key = ModelStore(local_stack.store.redis).record_key(model_id)
        attempts = local_stack.store.redis.hget(record_key, "validation_attempts")
        assert int(attempts) == 1, f"{case}: validated {attempts} times"

    peak, resident_after = memory(pid, "VmHWM"), memory(pid, "VmRSS")
    print(
        f"worker {pid}: resident {resident_before / 2**20:.0f} MiB before, "
        f"{resident_after / 2**20:.0f} MiB after, peak {peak / 2**20:.0f} MiB meanwhile"
    )
    assert peak - resident_before < RSS_BUDGET_BYTES
    assert resident_after - resident_before < RSS_BUDGET_BYTES
    assert local_stack.worker.poll() is None
    # The same worker process runs a job.
    body = {"model": ready["id"], "layer": "conv_b", "filter": 3, **TINY_RUN}
    job_id = local_stack.submit("/v1/jobs", body)["id"]
    assert local_stack.wait(job_id)["status"] == "succeeded"
    record = local_stack.store.get(job_id)
    assert record is not None
    assert record.worker is not None
    assert record.worker.pid == pid
