"""Where the job store keeps what, in Redis: every key under the ``fv:`` prefix.

- ``fv:job:{id}``: a hash, one field per record attribute (JSON values), so that the worker's
  progress and the API's cancel never overwrite each other;
- ``fv:job:{id}:snapshots`` / ``:finals``: hashes of image entries, keyed by image and iteration,
  so that a rerun overwrites its entries instead of adding to them;
- ``fv:job:{id}:packs``: the packs of a layer job already counted, so a pack counts once;
- ``fv:job:{id}:pack-progress``: each pack's furthest iteration, which a layer job's progress
  sums, so that a rerun pack's iterations are not added twice;
- ``fv:job:{id}:events``: a top-level job's events (``featviz.events``), a stream capped at
  ``EVENTS_CAP``, written by the scripts that change what they announce;
- ``fv:owner:{owner}``: the owner's top-level job ids (a sorted set; ids sort by creation time);
- ``fv:owner:{owner}:status:{status}``: the same by status, kept by the scripts that move
  statuses, so that a status-filtered page reads only matching jobs;
- ``fv:idempotency:{owner}:{key}``: the job a create request's ``Idempotency-Key`` made;
- ``fv:status-counts`` and ``fv:durations``: what ``/metrics`` reports;
- ``fv:owner-counts:{owner}``: the owner's top-level jobs by status (caps its queued jobs);
- ``fv:outbox``: tasks recorded but not yet known to be sent (``featviz.outbox``);
- ``fv:worker:{queue}:{host}:{pid}``: one live worker's capabilities, expiring unless its
  heartbeat renews them, and ``fv:workers:{queue}``: the ids of those workers, read instead of
  scanning every key (``featviz.capabilities``);
- ``fv:webhooks:due``: webhook deliveries (``{job id}/{event id}``) by when they are next due,
  ``fv:webhooks:payloads`` their events and ``fv:webhooks:attempts`` their attempts so far;
- ``fv:unclaimed``: queued jobs whose run task was sent and that no worker has claimed since, by
  when they were last known to wait (``featviz.store.unclaimed``), and ``fv:unclaimed:audit``,
  held by the reaper auditing them, so that the fleet audits once a lease;
- ``fv:leases``: running jobs by lease expiry (a sorted set of ids scored in Redis time): a
  running job's worker renews its lease with heartbeats, and a lease that expires means the
  worker died, so a reaper re-queues the job without waiting for the broker's visibility timeout.

The status scripts name the owner's keys themselves (``featviz/store/lua/status.lua``), from the
prefixes here, so the store needs one Redis server (no cluster), as the rest of the design does.
"""

from __future__ import annotations

import secrets
import threading
import time

from featviz.records import Status

PREFIX = "fv"
STATUS_COUNTS_KEY = f"{PREFIX}:status-counts"
DURATIONS_KEY = f"{PREFIX}:durations"
LEASES_KEY = f"{PREFIX}:leases"
UNCLAIMED_KEY = f"{PREFIX}:unclaimed"
UNCLAIMED_AUDIT_KEY = f"{UNCLAIMED_KEY}:audit"
OWNER_PREFIX = f"{PREFIX}:owner:"
OWNER_COUNTS_PREFIX = f"{PREFIX}:owner-counts:"
WEBHOOK_DUE_KEY = f"{PREFIX}:webhooks:due"
WEBHOOK_PAYLOADS_KEY = f"{PREFIX}:webhooks:payloads"
WEBHOOK_ATTEMPTS_KEY = f"{PREFIX}:webhooks:attempts"
EVENTS_CAP = 1000
"""Events kept per job (about; Redis trims whole nodes): a long job's oldest progress events go
first, while its few status events and snapshots stay in its record."""

_id_lock = threading.Lock()
_last_id_time = 0


def new_job_id() -> str:
    """A 28-hex-digit id that sorts by creation time: 16 digits of microseconds (made strictly
    increasing within the process) and 12 random ones."""
    global _last_id_time
    with _id_lock:
        _last_id_time = max(time.time_ns() // 1000, _last_id_time + 1)
        stamp = _last_id_time
    return f"{stamp:016x}{secrets.token_hex(6)}"


def job_key(job_id: str) -> str:
    return f"{PREFIX}:job:{job_id}"


def snapshots_key(job_id: str) -> str:
    return f"{job_key(job_id)}:snapshots"


def finals_key(job_id: str) -> str:
    return f"{job_key(job_id)}:finals"


def events_key(job_id: str) -> str:
    """The job's event stream; the Lua fragment ``events.lua`` names it the same way."""
    return f"{job_key(job_id)}:events"


def counted_packs_key(layer_job_id: str) -> str:
    return f"{job_key(layer_job_id)}:packs"


def pack_progress_key(layer_job_id: str) -> str:
    return f"{job_key(layer_job_id)}:pack-progress"


def owner_key(owner: str) -> str:
    return f"{OWNER_PREFIX}{owner}"


def owner_status_key(owner: str, status: Status) -> str:
    return f"{owner_key(owner)}:status:{status}"


def owner_counts_key(owner: str) -> str:
    return f"{OWNER_COUNTS_PREFIX}{owner}"


def idempotency_key(owner: str, key: str) -> str:
    return f"{PREFIX}:idempotency:{owner}:{key}"


def workers_key(queue: str) -> str:
    return f"{PREFIX}:workers:{queue}"


def worker_key(queue: str, worker_id: str) -> str:
    return f"{PREFIX}:worker:{queue}:{worker_id}"
