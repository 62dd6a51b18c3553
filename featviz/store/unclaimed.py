"""Queued jobs whose run task was sent and that no worker has claimed yet, audited so that a task
lost on its way to a worker is sent again.

A run task can be lost where nothing else sees it: kombu's Redis transport pops a message from
the queue (``BRPOP``) and only then notes it among the unacknowledged deliveries (``unacked``,
``featviz.broker``), so a worker killed in between takes the message with it. The send was
confirmed (no outbox entry), and no delivery is left to redeliver: the job would stay ``queued``
for ever (the fleet chaos run found one, docs/reliability.md).

Every job that waits for a claim is in the sorted set ``fv:unclaimed``, scored by when it was last
known to wait (Redis time), from the step that queues it, in the same transaction or script: its
creation (``stage``, for each job the run task serves: a job, a comparison, a layer job's packs,
an exemplar job's shards), a reaper's re-queue (``reap.lua``) and a drain's hand-back
(``hand_back.lua``). The claim takes it out, and so does a final status (``settle``). A delivery
that stayed unacknowledged past the lease (its worker died) is dropped, and its job, if still
waiting, is due for the next audit at once (``drop_delivery``).

Every reaper pass takes the entries older than ``lease_s`` (``take_unclaimed.lua``); the reaper
reads which run tasks wait in the broker's queue or among its deliveries
(``featviz.broker.waiting_tasks``) and audits each entry (``audit_unclaimed.lua``): seen there,
or still in the outbox, it waits on; seen nowhere, the reaper sends its task again. Both ways
the entry is known to wait from then. The claim script refuses a second copy of a job (over,
or running under a live lease), so a race that sends one more is harmless.

Why the audit reads the queue rather than re-sending whatever waits past the lease and leaving
the copies to the claim: behind a backlog every job waits longer than a lease, so that would
send a copy of every waiting job every lease (what re-queued jobs cost before, under a lease
renewed by each re-send: 543 copies in the full fleet run), and every copy deepens the backlog.
Reading the queue is bounded instead: one ``LRANGE`` of the queue and one ``HVALS`` of the
deliveries (a worker holds at most one), only when some entry is due, and by one reaper at a
time: taking entries holds the audit for ``lease_s`` (``fv:unclaimed:audit``), so a fleet of any
size reads the queue at most once a lease (2,000 queued tasks of about 1 KB each: 2 MB every
40 s by default). Copies are then sent only for tasks really lost, and a lost task is sent again
between one and two leases after it was last known to wait.
"""

from __future__ import annotations

from collections.abc import Container, Sequence

import redis

from featviz import outbox
from featviz.broker import UNACKED_INDEX_KEY, UNACKED_KEY
from featviz.store.keys import UNCLAIMED_AUDIT_KEY, UNCLAIMED_KEY, job_key
from featviz.store.outcomes import AUDIT_OUTCOMES, parse_outcome
from featviz.store.scripts import Scripts

RESENT_LOG = "its run task is neither queued nor delivered; sent again"
"""What a reaper logs of a job whose task it sends again (the fleet run counts them)."""
AUDIT_BATCH = 10_000
"""Entries one audit takes at most; more wait for the next (a lease later)."""


def stage(pipe: redis.client.Pipeline[str], job_ids: Sequence[str], now: float) -> None:
    """Note jobs as waiting for a claim, inside the transaction that queues them."""
    if job_ids:
        pipe.zadd(UNCLAIMED_KEY, dict.fromkeys(job_ids, now))


class Unclaimed:
    """The jobs waiting for a claim, and their audit, in the job store's Redis (``JobStore``
    makes one, with its scripts)."""

    def __init__(self, scripts: Scripts, client: redis.Redis[str]) -> None:
        self._scripts, self.redis = scripts, client

    def waiting(self) -> list[str]:
        """Every job waiting for a claim, longest known waiting first."""
        return list(self.redis.zrange(UNCLAIMED_KEY, 0, -1))

    def due(self, lease_s: float) -> list[str]:
        """The jobs not known to wait anywhere for longer than ``lease_s``, taken for an audit;
        none while another reaper's audit holds."""
        taken = self._scripts.run(
            "take_unclaimed", keys=[UNCLAIMED_KEY, UNCLAIMED_AUDIT_KEY], args=[lease_s, AUDIT_BATCH]
        )
        return list(taken)

    def audit(self, job_ids: Sequence[str], seen: Container[str], lease_s: float) -> list[str]:
        """Settle the audit of jobs taken by ``due``.

        Parameters
        ----------
        job_ids
            The jobs taken.
        seen
            The jobs whose run task the broker holds, queued or delivered.
        lease_s
            As given to ``due``.

        Returns
        -------
        list of str
            The jobs whose run task is lost: the caller sends it again.
        """
        with self.redis.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                self._scripts.run(
                    "audit_unclaimed",
                    keys=[job_key(job_id), UNCLAIMED_KEY, outbox.OUTBOX_KEY],
                    args=[job_id, lease_s, int(job_id in seen), outbox.entry("run", job_id)],
                    pipe=pipe,
                )
            outcomes = [parse_outcome(AUDIT_OUTCOMES, outcome) for outcome in pipe.execute()]
        return [job for job, outcome in zip(job_ids, outcomes, strict=True) if outcome == "resend"]

    def drop_delivery(self, job_id: str, tag: str) -> bool:
        """Drop a run task's delivery that stayed unacknowledged past the lease
        (``featviz.broker.stale_deliveries``): the worker it went to died before claiming the job,
        or runs it under its lease. A job still waiting for a claim is due for the next audit at
        once, which sends its task again unless another copy waits in the broker (a job a
        reaper re-queued was sent again then).

        Returns
        -------
        bool
            True when the job waits for a claim.
        """
        waits = self._scripts.run(
            "drop_delivery",
            keys=[UNACKED_KEY, UNACKED_INDEX_KEY, UNCLAIMED_KEY],
            args=[tag, job_id],
        )
        return bool(waits)
