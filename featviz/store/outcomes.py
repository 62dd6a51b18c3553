"""What the store's status scripts report, typed: the values are those stored in logs as they
were, and a value a script does not declare is an error, not a new outcome."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeVar, get_args

ClaimOutcome = Literal["claimed", "missing", "finished", "leased", "canceled", "exhausted"]
"""``claimed``: run it; ``missing``: no such job; ``finished``: it is over; ``leased``: another
delivery holds an unexpired lease on it; ``canceled``: it was asked to stop, and now has;
``exhausted``: it was delivered more than the allowed attempts, and now has failed."""

ReapOutcome = Literal["requeued", "canceled", "failed", "alive", "gone"]
"""``requeued``: the caller sends it again; ``canceled``: it was asked to stop; ``failed``: its
attempts are spent; ``alive``: its lease was renewed meanwhile; ``gone``: it is over or deleted."""

AuditOutcome = Literal["resend", "waiting", "gone", "not_due"]
"""What an audit of a job waiting for a claim found (``featviz.store.unclaimed``): ``resend``:
its run task is nowhere, and the caller sends it again; ``waiting``: its task waits in the
broker or the outbox; ``gone``: a worker claimed it, or it ended, meanwhile; ``not_due``: it was
sent again, or audited by another reaper, meanwhile."""

DeliveryOutcome = Literal["delivered", "retrying", "given_up", "gone"]
"""What became of a webhook delivery after an attempt: ``delivered`` (a 2xx answer);
``retrying``: due again after its backoff; ``given_up``: its last attempt failed; ``gone``:
another dispatcher settled it meanwhile (its hold on the delivery had run out)."""

CLAIM_OUTCOMES: tuple[ClaimOutcome, ...] = get_args(ClaimOutcome)
REAP_OUTCOMES: tuple[ReapOutcome, ...] = get_args(ReapOutcome)
AUDIT_OUTCOMES: tuple[AuditOutcome, ...] = get_args(AuditOutcome)
DELIVERY_OUTCOMES: tuple[DeliveryOutcome, ...] = get_args(DeliveryOutcome)

Outcome = TypeVar("Outcome", bound=str)


def parse_outcome(allowed: tuple[Outcome, ...], value: object) -> Outcome:
    """A script's reply as one of the ``allowed`` outcomes.

    Raises
    ------
    ValueError
        When the reply is none of them.
    """
    for outcome in allowed:
        if value == outcome:
            return outcome
    raise ValueError(f"unexpected outcome {value!r}, not one of {allowed}")


@dataclass(frozen=True)
class Claim:
    """What happened when a worker tried to take a job."""

    outcome: ClaimOutcome
    attempts: int


@dataclass(frozen=True)
class Reaped:
    """What a reaper did with a job whose lease expired."""

    outcome: ReapOutcome
    parent: str | None
