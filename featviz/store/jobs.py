"""The job store's API: the source of truth for every job's status, in Redis.

The key layout is ``featviz.store.keys``, the record hashes ``featviz.store.codec``; status
changes run as Lua scripts (``featviz.store.scripts``), so each is atomic with its checks.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any, cast

import redis

from featviz import outbox
from featviz.problems import Problem
from featviz.records import STATUSES, ImageEntry, JobRecord, Status, WorkerInfo
from featviz.store import metrics
from featviz.store.codec import FILE_FIELD_PREFIX, NewJob, decode, encode_new, image_field, now
from featviz.store.keys import (
    LEASES_KEY,
    STATUS_COUNTS_KEY,
    finals_key,
    idempotency_key,
    job_key,
    owner_counts_key,
    owner_key,
    owner_status_key,
    pack_progress_key,
    snapshots_key,
)
from featviz.store.outcomes import CLAIM_OUTCOMES, REAP_OUTCOMES, Claim, Reaped, parse_outcome
from featviz.store.scripts import Scripts
from featviz.store.unclaimed import Unclaimed, stage

IDEMPOTENCY_TTL_S = 24 * 3600


def attempts_exhausted(detail: str) -> Problem:
    """Why a job that never finished in its allowed attempts failed."""
    return Problem(
        type="urn:featviz:problem:attempts-exhausted",
        title="Too many attempts",
        status=500,
        detail=detail,
    )


def worker_lost(worker: WorkerInfo | None, max_attempts: int) -> Problem:
    """Why a job whose worker died on each of its allowed attempts failed, its last worker named."""
    where = "" if worker is None else f" (last on {worker.host} pid {worker.pid})"
    return attempts_exhausted(
        f"the worker running the job stopped sending heartbeats on each of {max_attempts} "
        f"attempts{where}"
    )


def fingerprint(spec: dict[str, Any]) -> str:
    """A digest of a validated spec, to tell an idempotent replay from a different request."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def runnable(jobs: Sequence[NewJob]) -> Sequence[NewJob]:
    """What a worker runs of a job just recorded: a layer job's packs, else the job itself."""
    return jobs[1:] if len(jobs) > 1 else jobs


def run_entries(jobs: Sequence[NewJob]) -> list[str]:
    """The outbox entries of what a worker runs (``runnable``)."""
    return [outbox.entry("run", job.id) for job in runnable(jobs)]


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
        self._scripts = Scripts(client)
        self.unclaimed = Unclaimed(self._scripts, client)
        """The jobs waiting for a claim, audited by the reapers."""

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
            remembered = idempotency_key(top.owner, idempotency[0])
        owner_counts = owner_counts_key(top.owner)
        queued_at = outbox.redis_now(self.redis)
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
                        pipe.hset(job_key(job.id), mapping=encode_new(job))
                    self._scripts.run(
                        "announce",
                        keys=[job_key(top.id)],
                        args=["status", json.dumps({"status": "queued"})],
                        pipe=pipe,
                    )
                    outbox.stage(pipe, run_entries(jobs), queued_at)
                    stage(pipe, [job.id for job in runnable(jobs)], queued_at)
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

    def remembers_idempotency_key(self, owner: str, key: str) -> bool:
        """Whether a create request with this key made a job, which a replay returns."""
        return bool(self.redis.exists(idempotency_key(owner, key)))

    def forget_idempotency_key(self, owner: str, key: str) -> None:
        """Let a key make a new job: its job failed before it could be queued."""
        self.redis.delete(idempotency_key(owner, key))

    @staticmethod
    def _replayed(before: dict[str, str], idempotency: tuple[str, str] | None) -> str:
        assert idempotency is not None
        if before["fingerprint"] != idempotency[1]:
            raise IdempotencyConflictError(idempotency[0])
        return before["job"]

    def get(self, job_id: str) -> JobRecord | None:
        """The whole record, or None when there is no such job."""
        key = job_key(job_id)
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(key)
            pipe.hvals(snapshots_key(job_id))
            pipe.hvals(finals_key(job_id))
            fields, snapshots, finals = pipe.execute()
        if not fields:
            return None
        return decode(fields, snapshots, finals)

    def get_owned(self, job_id: str, owner: str) -> JobRecord | None:
        """The record if ``owner`` may see it: top-level jobs of that owner only."""
        record = self.get(job_id)
        if record is None or record.owner != owner or record.parent is not None:
            return None
        return record

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

        A job already tried ``max_attempts`` times fails here instead of running again: with
        the reaper's reason when its last worker's lease expired (this delivery came first).
        """
        exhausted = attempts_exhausted(
            f"the job was delivered {max_attempts} times without finishing"
        )
        # Only the worker field: a claim starts every run, and the whole record holds its images.
        last_worker = self.redis.hget(job_key(job_id), "worker")
        lost = worker_lost(
            WorkerInfo.model_validate_json(last_worker) if last_worker else None, max_attempts
        )
        outcome, attempts = self._scripts.run(
            "claim",
            keys=[job_key(job_id), job_key(parent or job_id), STATUS_COUNTS_KEY, LEASES_KEY],
            args=[
                now(),
                worker.model_dump_json(),
                max_attempts,
                exhausted.model_dump_json(),
                lease_s,
                lost.model_dump_json(),
            ],
        )
        return Claim(parse_outcome(CLAIM_OUTCOMES, outcome), int(attempts))

    def heartbeat(self, job_id: str, attempt: int, lease_s: float) -> bool:
        """Renew a running attempt's lease; False when the attempt has lost the job (it was
        reaped, finished or canceled), so that its worker stops."""
        held = self._scripts.run(
            "heartbeat", keys=[job_key(job_id), LEASES_KEY], args=[now(), attempt, lease_s]
        )
        return bool(held)

    def hand_back(self, job_id: str, attempt: int) -> bool:
        """Queue a running attempt's job again, the attempt not counted (its worker is stopping,
        the job is not at fault); the job's ``run`` task goes in the outbox in the same step.

        Returns
        -------
        bool
            False when the attempt no longer holds the job (nothing changed).
        """
        handed = self._scripts.run(
            "hand_back",
            keys=[job_key(job_id), STATUS_COUNTS_KEY, LEASES_KEY, outbox.OUTBOX_KEY],
            args=[now(), attempt, outbox.entry("run", job_id)],
        )
        return bool(handed)

    def expired_leases(self) -> list[str]:
        """Ids of jobs whose lease has expired (by Redis's clock)."""
        seconds, microseconds = self.redis.time()
        return list(self.redis.zrangebyscore(LEASES_KEY, "-inf", seconds + microseconds / 1e6))

    def reap(self, job_id: str, max_attempts: int) -> Reaped:
        """Settle a job whose lease has expired: ``requeued`` (the caller enqueues it again; it
        waits for a claim, ``featviz.store.unclaimed``), ``canceled``, ``failed`` (its attempts
        are spent), or ``alive`` / ``gone`` when there was nothing to do."""
        record = self.get(job_id)
        if record is None:
            self.redis.zrem(LEASES_KEY, job_id)
            return Reaped("gone", None)
        lost = worker_lost(record.worker, max_attempts)
        outcome = self._scripts.run(
            "reap",
            keys=[
                job_key(job_id),
                job_key(record.parent or job_id),
                STATUS_COUNTS_KEY,
                LEASES_KEY,
            ],
            args=[job_id, now(), max_attempts, lost.model_dump_json()],
        )
        return Reaped(parse_outcome(REAP_OUTCOMES, outcome), record.parent)

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
        changed = self._scripts.run(
            "transition",
            keys=[job_key(job_id), STATUS_COUNTS_KEY, LEASES_KEY],
            args=[
                now(),
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
        status = self._scripts.run(
            "request_cancel", keys=[job_key(job_id), STATUS_COUNTS_KEY, LEASES_KEY], args=[now()]
        )
        return parse_outcome(STATUSES, status) if status else None

    def cancel_requested(self, job_id: str, parent: str | None = None) -> bool:
        """Whether the job, or the layer job it belongs to, was asked to stop."""
        with self.redis.pipeline(transaction=False) as pipe:
            for key in {job_id, parent or job_id}:
                pipe.hget(job_key(key), "cancel_requested")
            return "1" in pipe.execute()

    # What a running job writes

    def set_progress(self, job_id: str, iteration: int, total: int) -> None:
        """Record and announce a job's progress (a pack's counts through its layer job)."""
        self._scripts.run("progress", keys=[job_key(job_id)], args=[now(), iteration, total])

    def record_pack_progress(self, parent: str, pack: str, iteration: int) -> int:
        """Count a pack's iterations in its layer job's progress, each iteration once however
        many times the pack is delivered; returns how many were added."""
        added = self._scripts.run(
            "pack_progress",
            keys=[job_key(parent), pack_progress_key(parent)],
            args=[pack, iteration],
        )
        return int(added)

    def add_snapshot(self, job_id: str, top_job_id: str, entry: ImageEntry, column: int) -> None:
        """Record a snapshot on the job that made it, announced on ``top_job_id``: the job the
        user sees (a pack's layer job, else the job itself)."""
        self._scripts.run(
            "snapshot",
            keys=[snapshots_key(job_id), job_key(top_job_id)],
            args=[image_field(entry, column), entry.model_dump_json()],
        )

    def add_final(self, job_id: str, entry: ImageEntry, column: int) -> None:
        self.redis.hset(finals_key(job_id), image_field(entry, column), entry.model_dump_json())

    def set_file(self, job_id: str, name: str, key: str) -> None:
        self.redis.hset(job_key(job_id), f"{FILE_FIELD_PREFIX}{name}", key)

    # What /metrics reports

    def status_counts(self) -> dict[str, int]:
        """Top-level jobs by status."""
        return metrics.status_counts(self.redis)

    def observe_duration(self, seconds: float) -> None:
        """Add a finished job's run time to the duration histogram all processes share."""
        metrics.observe_duration(self.redis, seconds)

    def durations(self) -> tuple[list[tuple[float, int]], float]:
        """Cumulative ``(upper bound, count)`` buckets and the sum of all durations."""
        return metrics.durations(self.redis)
