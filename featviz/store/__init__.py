"""The job store in Redis: the source of truth for every job's status.

- ``keys``: where everything is kept (the key layout);
- ``lua/`` and ``scripts``: the status changes, as Lua scripts atomic with their checks;
- ``codec``: records as Redis hashes;
- ``outcomes``: what the status scripts report, typed;
- ``metrics``: what ``/metrics`` reads;
- ``unclaimed``: the jobs waiting for a claim, audited so that a lost run task is sent again;
- ``jobs``: ``JobStore``, the API the service uses.
"""

from featviz.store.codec import NewJob
from featviz.store.jobs import (
    IdempotencyConflictError,
    JobStore,
    QueueFullError,
    fingerprint,
    run_entries,
)
from featviz.store.keys import PREFIX, job_key, new_job_id
from featviz.store.outcomes import Claim, ClaimOutcome, Reaped, ReapOutcome

__all__ = [
    "PREFIX",
    "Claim",
    "ClaimOutcome",
    "IdempotencyConflictError",
    "JobStore",
    "NewJob",
    "QueueFullError",
    "ReapOutcome",
    "Reaped",
    "fingerprint",
    "job_key",
    "new_job_id",
    "run_entries",
]
