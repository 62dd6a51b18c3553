"""The job store in Redis: the source of truth for every job's status.

Layout (every key under the ``fv:`` prefix):

- ``fv:job:{id}``: a hash, one field per record attribute (JSON values), so that the worker's
  progress and the API's cancel never overwrite each other;
- ``fv:job:{id}:snapshots`` / ``:finals``: hashes of image entries, keyed by image and iteration,
  so that a rerun overwrites its entries instead of adding to them;
- ``fv:job:{id}:packs``: the packs of a layer job already counted, so a pack counts once;
- ``fv:job:{id}:pack-progress``: each pack's furthest iteration, which a layer job's progress
  sums, so that a rerun pack's iterations are not added twice;
- ``fv:owner:{owner}``: the owner's top-level job ids (a sorted set; ids sort by creation time);
- ``fv:owner:{owner}:status:{status}``: the same by status, kept by the scripts that move
  statuses, so that a status-filtered page reads only matching jobs;
- ``fv:idempotency:{owner}:{key}``: the job a create request's ``Idempotency-Key`` made;
- ``fv:status-counts`` and ``fv:durations``: what ``/metrics`` reports;
- ``fv:owner-counts:{owner}``: the owner's top-level jobs by status (caps its queued jobs);
- ``fv:outbox``: tasks recorded but not yet known to be sent (``featviz.outbox``).
- ``fv:leases``: running jobs by lease expiry (a sorted set of ids scored in Redis time): a
  running job's worker renews its lease with heartbeats, and a lease that expires means the
  worker died, so a reaper re-queues the job without waiting for the broker's visibility timeout.

Status changes run as Lua scripts, so each is atomic with its checks.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import redis

from featviz import outbox
from featviz.problems import Problem
from featviz.records import (
    STATUSES,
    Counts,
    ImageEntry,
    JobKind,
    JobRecord,
    Progress,
    Status,
    WorkerInfo,
)

PREFIX = "fv"
STATUS_COUNTS_KEY = f"{PREFIX}:status-counts"
OWNER_COUNTS_PREFIX = f"{PREFIX}:owner-counts:"
LEASES_KEY = f"{PREFIX}:leases"
DURATIONS_KEY = f"{PREFIX}:durations"
IDEMPOTENCY_TTL_S = 24 * 3600
DURATION_BUCKETS_S = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, float("inf"))

# Fields of the record hash that hold JSON values; the rest are plain strings.
_JSON_FIELDS = ("spec", "worker", "error", "counts")


def _now() -> str:
    return datetime.now(UTC).isoformat()


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


def owner_key(owner: str) -> str:
    return f"{PREFIX}:owner:{owner}"


def owner_status_key(owner: str, status: Status) -> str:
    return f"{owner_key(owner)}:status:{status}"


def owner_counts_key(owner: str) -> str:
    return f"{OWNER_COUNTS_PREFIX}{owner}"


def image_field(entry: ImageEntry, column: int) -> str:
    """The hash field of an image entry: one per image of the batch and iteration."""
    return f"{entry.filter}:{column}:{entry.iteration}"


def attempts_exhausted(detail: str) -> Problem:
    """Why a job that never finished in its allowed attempts failed."""
    return Problem(
        type="urn:featviz:problem:attempts-exhausted",
        title="Too many attempts",
        status=500,
        detail=detail,
    )


def fingerprint(spec: dict[str, Any]) -> str:
    """A digest of a validated spec, to tell an idempotent replay from a different request."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


# Prepended to every script that changes a status. Top-level jobs are counted by status, in all
# and per owner (the owner's queued count caps how much one key may queue); packs count through
# their layer job. The owner's key is named inside the script, so the store needs one Redis
# server (no cluster), as the rest of the design does. Lease times come from Redis's own clock,
# so that workers on hosts with skewed clocks agree on when a lease expires.
_HELPERS = f"""
local function count_move(counts_key, record, from, to)
  if redis.call('HGET', record, 'parent') ~= '' then return end
  local owner = redis.call('HGET', record, 'owner')
  local owner_counts = '{OWNER_COUNTS_PREFIX}' .. owner
  local by_status = '{PREFIX}:owner:' .. owner .. ':status:'
  local id = redis.call('HGET', record, 'id')
  redis.call('ZREM', by_status .. from, id)
  redis.call('ZADD', by_status .. to, 0, id)
  redis.call('HINCRBY', counts_key, from, -1)
  redis.call('HINCRBY', counts_key, to, 1)
  redis.call('HINCRBY', owner_counts, from, -1)
  redis.call('HINCRBY', owner_counts, to, 1)
end
local function now_s()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function finished(status)
  return status == 'succeeded' or status == 'failed' or status == 'canceled'
end
"""

# KEYS: record, parent record (or the record again), status counts, leases.
# ARGV: now, worker JSON, max attempts, exhausted-problem JSON, lease seconds.
# Returns {outcome, attempts}: outcome is claimed, missing, finished, leased (another delivery
# holds an unexpired lease), canceled or exhausted.
_CLAIM = (
    _HELPERS
    + """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {'missing', 0} end
if finished(status) then return {'finished', 0} end
local id = redis.call('HGET', KEYS[1], 'id')
local attempts = tonumber(redis.call('HGET', KEYS[1], 'attempts'))
if status == 'running' then
  local expires = redis.call('ZSCORE', KEYS[4], id)
  if expires and tonumber(expires) > now_s() then return {'leased', attempts} end
end
local function finish(to)
  count_move(KEYS[3], KEYS[1], status, to)
  redis.call('HSET', KEYS[1], 'status', to, 'updated_at', ARGV[1], 'finished_at', ARGV[1])
  redis.call('ZREM', KEYS[4], id)
end
if redis.call('HGET', KEYS[1], 'cancel_requested') == '1'
   or redis.call('HGET', KEYS[2], 'cancel_requested') == '1' then
  finish('canceled')
  return {'canceled', attempts}
end
attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
if attempts > tonumber(ARGV[3]) then
  finish('failed')
  redis.call('HSET', KEYS[1], 'error', ARGV[4])
  return {'exhausted', attempts}
end
count_move(KEYS[3], KEYS[1], status, 'running')
redis.call('HSET', KEYS[1], 'status', 'running', 'updated_at', ARGV[1], 'worker', ARGV[2],
           'heartbeat_at', ARGV[1])
redis.call('ZADD', KEYS[4], now_s() + tonumber(ARGV[5]), id)
if redis.call('HGET', KEYS[1], 'started_at') == '' then
  redis.call('HSET', KEYS[1], 'started_at', ARGV[1])
end
return {'claimed', attempts}
"""
)

# KEYS: record, leases. ARGV: now, attempt, lease seconds.
# Renews the lease of a running job's attempt; returns 0 when that attempt no longer holds it.
_HEARTBEAT = (
    _HELPERS
    + """
if redis.call('HGET', KEYS[1], 'status') ~= 'running'
   or redis.call('HGET', KEYS[1], 'attempts') ~= ARGV[2] then
  return 0
end
redis.call('ZADD', KEYS[2], now_s() + tonumber(ARGV[3]), redis.call('HGET', KEYS[1], 'id'))
redis.call('HSET', KEYS[1], 'heartbeat_at', ARGV[1])
return 1
"""
)

# KEYS: record, parent record (or the record again), status counts, leases.
# ARGV: job id, now, lease seconds, max attempts, worker-lost problem JSON.
# Settles a job whose lease expired: canceled if asked to stop, failed when its attempts are
# spent, else queued again under a fresh lease, so that a re-queue whose message is lost is
# reaped again. Returns alive, gone, canceled, failed or requeued.
_REAP = (
    _HELPERS
    + """
local expires = redis.call('ZSCORE', KEYS[4], ARGV[1])
if not expires or tonumber(expires) > now_s() then return 'alive' end
local status = redis.call('HGET', KEYS[1], 'status')
if not status or finished(status) then
  redis.call('ZREM', KEYS[4], ARGV[1])
  return 'gone'
end
local function finish(to)
  count_move(KEYS[3], KEYS[1], status, to)
  redis.call('HSET', KEYS[1], 'status', to, 'updated_at', ARGV[2], 'finished_at', ARGV[2])
  redis.call('ZREM', KEYS[4], ARGV[1])
end
if redis.call('HGET', KEYS[1], 'cancel_requested') == '1'
   or redis.call('HGET', KEYS[2], 'cancel_requested') == '1' then
  finish('canceled')
  return 'canceled'
end
if tonumber(redis.call('HGET', KEYS[1], 'attempts')) >= tonumber(ARGV[4]) then
  finish('failed')
  redis.call('HSET', KEYS[1], 'error', ARGV[5])
  return 'failed'
end
count_move(KEYS[3], KEYS[1], status, 'queued')
redis.call('HSET', KEYS[1], 'status', 'queued', 'updated_at', ARGV[2])
redis.call('ZADD', KEYS[4], now_s() + tonumber(ARGV[3]), ARGV[1])
return 'requeued'
"""
)

# KEYS: record, status counts, leases. ARGV: now, to-status, attempt ('' for any), error JSON
# ('' for none), then the statuses it may move from. Returns the old status, or false when not
# allowed.
_TRANSITION = (
    _HELPERS
    + """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return false end
local allowed = false
for i = 5, #ARGV do if ARGV[i] == status then allowed = true end end
if not allowed then return false end
if ARGV[3] ~= '' and redis.call('HGET', KEYS[1], 'attempts') ~= ARGV[3] then return false end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'updated_at', ARGV[1])
local to = ARGV[2]
if finished(to) then
  redis.call('HSET', KEYS[1], 'finished_at', ARGV[1])
  redis.call('ZREM', KEYS[3], redis.call('HGET', KEYS[1], 'id'))
  if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'error', ARGV[4]) end
elseif to == 'running' and redis.call('HGET', KEYS[1], 'started_at') == '' then
  redis.call('HSET', KEYS[1], 'started_at', ARGV[1])
end
count_move(KEYS[2], KEYS[1], status, to)
return status
"""
)

# KEYS: record, status counts, leases. ARGV: now. Marks cancel; a queued job is canceled at
# once. Returns the status after the call, or false when the job does not exist.
_REQUEST_CANCEL = (
    _HELPERS
    + """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return false end
if finished(status) then return status end
redis.call('HSET', KEYS[1], 'cancel_requested', '1', 'updated_at', ARGV[1])
if status == 'queued' then
  redis.call('HSET', KEYS[1], 'status', 'canceled', 'finished_at', ARGV[1])
  redis.call('ZREM', KEYS[3], redis.call('HGET', KEYS[1], 'id'))
  count_move(KEYS[2], KEYS[1], 'queued', 'canceled')
  return 'canceled'
end
return status
"""
)

# KEYS: parent record, parent's pack-progress hash. ARGV: pack id, the pack's iteration.
# Raises the pack's furthest iteration and adds what it gained to the parent's progress, so a
# rerun pack adds nothing until it passes where its earlier attempt got to.
_PACK_PROGRESS = """
local before = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
local now = tonumber(ARGV[2])
if now <= before then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], now)
redis.call('HINCRBY', KEYS[1], 'progress_iteration', now - before)
return now - before
"""

# KEYS: parent record, parent's counted-packs set. ARGV: pack id, succeeded, failed, canceled.
# Counts a pack's filters once; returns 1 when this was the parent's last pack.
_COUNT_PACK = """
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[1], 'count_succeeded', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'count_failed', ARGV[3])
redis.call('HINCRBY', KEYS[1], 'count_canceled', ARGV[4])
local done = redis.call('SCARD', KEYS[2])
if done == tonumber(redis.call('HGET', KEYS[1], 'packs_total')) then
  local now = redis.call('TIME')
  redis.call('ZADD', KEYS[3], now[1] + now[2] / 1e6, ARGV[5])
  return 1
end
return 0
"""


def runnable(jobs: Sequence[NewJob]) -> Sequence[NewJob]:
    """The jobs a worker runs: a layer job's packs, else the job itself."""
    return jobs[1:] if len(jobs) > 1 else jobs


def run_entries(jobs: Sequence[NewJob]) -> list[str]:
    return [outbox.entry("run", job.id) for job in runnable(jobs)]


@dataclass(frozen=True)
class NewJob:
    """What the API records for a job before it is enqueued."""

    id: str
    kind: JobKind
    owner: str
    spec: dict[str, Any]
    parent: str | None = None
    total_iterations: int = 0
    filters: int = 0
    """For layer jobs: how many filters, counted as their packs finish."""
    packs: int = 0


@dataclass(frozen=True)
class Claim:
    """What happened when a worker tried to take a job."""

    outcome: str
    """``claimed`` (run it), ``missing``, ``finished``, ``canceled`` or ``exhausted``."""
    attempts: int


@dataclass(frozen=True)
class Reaped:
    """What a reaper did with a job whose lease expired."""

    outcome: str
    """``requeued``, ``canceled``, ``failed``, ``alive`` or ``gone``."""
    parent: str | None


class IdempotencyConflictError(Exception):
    """An ``Idempotency-Key`` was reused with a different request body."""


class QueueFullError(Exception):
    """The owner already has as many queued jobs as it may."""


class JobStore:
    """Job records in Redis.

    Parameters
    ----------
    client
        A Redis client created with ``decode_responses=True``.
    """

    def __init__(self, client: redis.Redis[str]) -> None:
        self.redis = client
        self._claim = client.register_script(_CLAIM)
        self._heartbeat = client.register_script(_HEARTBEAT)
        self._reap = client.register_script(_REAP)
        self._transition = client.register_script(_TRANSITION)
        self._request_cancel = client.register_script(_REQUEST_CANCEL)
        self._count_pack = client.register_script(_COUNT_PACK)
        self._pack_progress = client.register_script(_PACK_PROGRESS)

    @classmethod
    def from_url(cls, url: str) -> JobStore:
        return cls(redis.Redis.from_url(url, decode_responses=True))

    def ping(self) -> bool:
        return bool(self.redis.ping())

    # Creating and reading

    def create(
        self,
        jobs: Sequence[NewJob],
        idempotency: tuple[str, str] | None = None,
        max_queued: int | None = None,
    ) -> str:
        """Record jobs (a top-level job first, then its packs) in one transaction.

        Parameters
        ----------
        jobs
            The top-level job, then the packs of a layer job.
        idempotency
            ``(Idempotency-Key, fingerprint of the spec)``: a replay returns the first job's id
            and records nothing.
        max_queued
            How many queued top-level jobs the owner may have, this one included.

        Returns
        -------
        str
            The id of the top-level job: the new one, or the one the key made before.

        Raises
        ------
        IdempotencyConflictError
            When the key was used before with another spec.
        QueueFullError
            When the owner already has ``max_queued`` queued jobs.
        """
        top = jobs[0]
        remembered = None
        if idempotency is not None:
            remembered = f"{PREFIX}:idempotency:{top.owner}:{idempotency[0]}"
        owner_counts = owner_counts_key(top.owner)
        now = outbox.redis_now(self.redis)
        with self.redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(owner_counts)
                    if remembered is not None:
                        pipe.watch(remembered)
                        before = cast(str | None, pipe.get(remembered))
                        if before is not None:
                            return self._replayed(json.loads(before), idempotency)
                    queued = int(cast(str | None, pipe.hget(owner_counts, "queued")) or 0)
                    if max_queued is not None and queued >= max_queued:
                        raise QueueFullError(top.owner)
                    pipe.multi()
                    for job in jobs:
                        pipe.hset(job_key(job.id), mapping=self._new_fields(job))
                    outbox.stage(pipe, run_entries(jobs), now)
                    pipe.zadd(owner_key(top.owner), {top.id: 0})
                    pipe.zadd(owner_status_key(top.owner, "queued"), {top.id: 0})
                    pipe.hincrby(STATUS_COUNTS_KEY, "queued", 1)
                    pipe.hincrby(owner_counts, "queued", 1)
                    if remembered is not None and idempotency is not None:
                        value = json.dumps({"job": top.id, "fingerprint": idempotency[1]})
                        pipe.set(remembered, value, ex=IDEMPOTENCY_TTL_S)
                    pipe.execute()
                    return top.id
                except redis.WatchError:
                    continue

    def forget_idempotency_key(self, owner: str, key: str) -> None:
        """Let a key make a new job: its job failed before it could be queued."""
        self.redis.delete(f"{PREFIX}:idempotency:{owner}:{key}")

    @staticmethod
    def _replayed(before: dict[str, str], idempotency: tuple[str, str] | None) -> str:
        assert idempotency is not None
        if before["fingerprint"] != idempotency[1]:
            raise IdempotencyConflictError(idempotency[0])
        return before["job"]

    @staticmethod
    def _new_fields(job: NewJob) -> dict[str | bytes, bytes | float | int | str]:
        now = _now()
        fields: dict[str | bytes, bytes | float | int | str] = {
            "id": job.id,
            "kind": job.kind,
            "owner": job.owner,
            "status": "queued",
            "spec": json.dumps(job.spec),
            "parent": job.parent or "",
            "created_at": now,
            "updated_at": now,
            "started_at": "",
            "finished_at": "",
            "attempts": 0,
            "heartbeat_at": "",
            "cancel_requested": "0",
            "progress_iteration": 0,
            "progress_total": job.total_iterations,
        }
        if job.packs:
            fields |= {
                "packs_total": job.packs,
                "count_total": job.filters,
                "count_succeeded": 0,
                "count_failed": 0,
                "count_canceled": 0,
            }
        return fields

    def get(self, job_id: str) -> JobRecord | None:
        """The whole record, or None when there is no such job."""
        key = job_key(job_id)
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(key)
            pipe.hvals(f"{key}:snapshots")
            pipe.hvals(f"{key}:finals")
            fields, snapshots, finals = pipe.execute()
        if not fields:
            return None
        return self._record(fields, snapshots, finals)

    def get_owned(self, job_id: str, owner: str) -> JobRecord | None:
        """The record if ``owner`` may see it: top-level jobs of that owner only."""
        record = self.get(job_id)
        if record is None or record.owner != owner or record.parent is not None:
            return None
        return record

    @staticmethod
    def _record(fields: dict[str, str], snapshots: list[str], finals: list[str]) -> JobRecord:
        values: dict[str, Any] = {
            name: json.loads(fields[name]) for name in _JSON_FIELDS if fields.get(name)
        }
        files = {
            name.removeprefix("file:"): key
            for name, key in fields.items()
            if name.startswith("file:")
        }
        counts = None
        if "count_total" in fields:
            counts = Counts(
                total=int(fields["count_total"]),
                succeeded=int(fields["count_succeeded"]),
                failed=int(fields["count_failed"]),
                canceled=int(fields["count_canceled"]),
            )

        def images(raw: list[str]) -> list[ImageEntry]:
            entries = [ImageEntry.model_validate_json(item) for item in raw]
            return sorted(entries, key=lambda e: (e.filter, e.tv_weight, e.iteration))

        return JobRecord(
            id=fields["id"],
            kind=cast(JobKind, fields["kind"]),
            owner=fields["owner"],
            status=cast(Status, fields["status"]),
            spec=values["spec"],
            parent=fields["parent"] or None,
            created_at=datetime.fromisoformat(fields["created_at"]),
            updated_at=datetime.fromisoformat(fields["updated_at"]),
            started_at=datetime.fromisoformat(fields["started_at"])
            if fields["started_at"]
            else None,
            finished_at=datetime.fromisoformat(fields["finished_at"])
            if fields["finished_at"]
            else None,
            progress=Progress(
                iteration=int(fields["progress_iteration"]),
                total=int(fields["progress_total"]),
            ),
            attempts=int(fields["attempts"]),
            worker=WorkerInfo.model_validate(values["worker"]) if "worker" in values else None,
            heartbeat_at=datetime.fromisoformat(fields["heartbeat_at"])
            if fields.get("heartbeat_at")
            else None,
            error=Problem.model_validate(values["error"]) if "error" in values else None,
            cancel_requested=fields["cancel_requested"] == "1",
            snapshots=images(snapshots),
            finals=images(finals),
            files=files,
            counts=counts,
        )

    def list_owned(
        self, owner: str, status: Status | None = None, after: str | None = None, limit: int = 20
    ) -> tuple[list[JobRecord], str | None]:
        """A page of the owner's jobs (of one status, when given), newest first.

        Every page but the last holds ``limit`` jobs, and the cursor is None exactly when no
        further job matched when the page was read. A job whose status changes while a client
        pages moves between the status listings, so it may be seen in neither or in both.

        Parameters
        ----------
        after
            The last id of the previous page (the cursor), or None for the first page.

        Returns
        -------
        tuple
            The page, and the cursor of the next page (None on the last page).
        """
        listing = owner_key(owner) if status is None else owner_status_key(owner, status)
        upper = f"({after}" if after else "+"
        # One more than a page, to know whether another page follows.
        ids = self.redis.zrevrangebylex(listing, upper, "-", start=0, num=limit + 1)
        page = [record for record in map(self.get, ids[:limit]) if record is not None]
        return page, (ids[limit - 1] if len(ids) > limit else None)

    def count_owned(self, owner: str) -> int:
        return int(self.redis.zcard(owner_key(owner)))

    def queued_owned(self, owner: str) -> int:
        """The owner's top-level jobs waiting to run."""
        return int(self.redis.hget(owner_counts_key(owner), "queued") or 0)

    # Status changes

    def claim(
        self,
        job_id: str,
        parent: str | None,
        worker: WorkerInfo,
        max_attempts: int,
        lease_s: float,
    ) -> Claim:
        """Take a job for a run under a lease of ``lease_s``: counts the attempt, unless the job
        is over, canceled, or running under another delivery's unexpired lease.

        A job already tried ``max_attempts`` times fails here instead of running again.
        """
        exhausted = attempts_exhausted(
            f"the job was delivered {max_attempts} times without finishing"
        )
        outcome, attempts = self._claim(
            keys=[job_key(job_id), job_key(parent or job_id), STATUS_COUNTS_KEY, LEASES_KEY],
            args=[
                _now(),
                worker.model_dump_json(),
                max_attempts,
                exhausted.model_dump_json(),
                lease_s,
            ],
        )
        return Claim(str(outcome), int(attempts))

    def heartbeat(self, job_id: str, attempt: int, lease_s: float) -> bool:
        """Renew a running attempt's lease; False when the attempt has lost the job (it was
        reaped, finished or canceled), so that its worker stops."""
        held = self._heartbeat(keys=[job_key(job_id), LEASES_KEY], args=[_now(), attempt, lease_s])
        return bool(held)

    def expired_leases(self) -> list[str]:
        """Ids of jobs whose lease has expired (by Redis's clock)."""
        seconds, microseconds = self.redis.time()
        return list(self.redis.zrangebyscore(LEASES_KEY, "-inf", seconds + microseconds / 1e6))

    def reap(self, job_id: str, lease_s: float, max_attempts: int) -> Reaped:
        """Settle a job whose lease has expired: ``requeued`` (the caller enqueues it again),
        ``canceled``, ``failed`` (its attempts are spent), or ``alive`` / ``gone`` when there
        was nothing to do."""
        record = self.get(job_id)
        if record is None:
            self.redis.zrem(LEASES_KEY, job_id)
            return Reaped("gone", None)
        where = ""
        if record.worker is not None:
            where = f" (last on {record.worker.host} pid {record.worker.pid})"
        lost = attempts_exhausted(
            f"the worker running the job stopped sending heartbeats on each of {max_attempts} "
            f"attempts{where}"
        )
        outcome = self._reap(
            keys=[
                job_key(job_id),
                job_key(record.parent or job_id),
                STATUS_COUNTS_KEY,
                LEASES_KEY,
            ],
            args=[job_id, _now(), lease_s, max_attempts, lost.model_dump_json()],
        )
        return Reaped(str(outcome), record.parent)

    def transition(
        self,
        job_id: str,
        allowed: Iterable[Status],
        to: Status,
        attempt: int | None = None,
        error: Problem | None = None,
    ) -> bool:
        """Move a job to ``to`` if its status is one of ``allowed`` (and, when given, its attempt
        count is ``attempt``: a run that lost its job to a later delivery changes nothing)."""
        changed = self._transition(
            keys=[job_key(job_id), STATUS_COUNTS_KEY, LEASES_KEY],
            args=[
                _now(),
                to,
                "" if attempt is None else attempt,
                "" if error is None else error.model_dump_json(exclude_none=True),
                *allowed,
            ],
        )
        return bool(changed)

    def request_cancel(self, job_id: str) -> Status | None:
        """Ask a job to stop; a queued one is canceled at once.

        Returns
        -------
        Status or None
            The status after the request (``running`` while a worker stops it), or None when
            there is no such job.
        """
        status = self._request_cancel(
            keys=[job_key(job_id), STATUS_COUNTS_KEY, LEASES_KEY], args=[_now()]
        )
        return cast(Status, status) if status else None

    def cancel_requested(self, job_id: str, parent: str | None = None) -> bool:
        """Whether the job, or the layer job it belongs to, was asked to stop."""
        with self.redis.pipeline(transaction=False) as pipe:
            for key in {job_id, parent or job_id}:
                pipe.hget(job_key(key), "cancel_requested")
            return "1" in pipe.execute()

    # What a running job writes

    def set_progress(self, job_id: str, iteration: int, total: int) -> None:
        self.redis.hset(
            job_key(job_id),
            mapping={
                "progress_iteration": iteration,
                "progress_total": total,
                "updated_at": _now(),
            },
        )

    def record_pack_progress(self, parent: str, pack: str, iteration: int) -> int:
        """Count a pack's iterations in its layer job's progress, each iteration once however
        many times the pack is delivered; returns how many were added."""
        added = self._pack_progress(
            keys=[job_key(parent), f"{job_key(parent)}:pack-progress"], args=[pack, iteration]
        )
        return int(added)

    def add_snapshot(self, job_id: str, entry: ImageEntry, column: int) -> None:
        self.redis.hset(
            f"{job_key(job_id)}:snapshots", image_field(entry, column), entry.model_dump_json()
        )

    def add_final(self, job_id: str, entry: ImageEntry, column: int) -> None:
        self.redis.hset(
            f"{job_key(job_id)}:finals", image_field(entry, column), entry.model_dump_json()
        )

    def set_file(self, job_id: str, name: str, key: str) -> None:
        self.redis.hset(job_key(job_id), f"file:{name}", key)

    def count_pack(self, parent: str, pack: str, counts: Counts) -> bool:
        """Add a finished pack's filters to its layer job's counts, once.

        Returns
        -------
        bool
            True for the call that counted the layer job's last pack; that call also puts the
            layer job's ``finish`` task in the outbox.
        """
        last = self._count_pack(
            keys=[job_key(parent), f"{job_key(parent)}:packs", outbox.OUTBOX_KEY],
            args=[
                pack,
                counts.succeeded,
                counts.failed,
                counts.canceled,
                outbox.entry("finish", parent),
            ],
        )
        return bool(last)

    # What /metrics reports

    def status_counts(self) -> dict[str, int]:
        """Top-level jobs by status."""
        raw = self.redis.hgetall(STATUS_COUNTS_KEY)
        return {status: int(raw.get(status, 0)) for status in STATUSES}

    def observe_duration(self, seconds: float) -> None:
        """Add a finished job's run time to the duration histogram all processes share."""
        bucket = next(b for b in DURATION_BUCKETS_S if seconds <= b)
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.hincrby(DURATIONS_KEY, str(bucket), 1)
            pipe.hincrbyfloat(DURATIONS_KEY, "sum", seconds)
            pipe.execute()

    def durations(self) -> tuple[list[tuple[float, int]], float]:
        """Cumulative ``(upper bound, count)`` buckets and the sum of all durations."""
        raw = self.redis.hgetall(DURATIONS_KEY)
        cumulative, running = [], 0
        for bound in DURATION_BUCKETS_S:
            running += int(raw.get(str(bound), 0))
            cumulative.append((bound, running))
        return cumulative, float(raw.get("sum", 0.0))
