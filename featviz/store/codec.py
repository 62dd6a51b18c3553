"""Job records as Redis hashes: one field per attribute, JSON for the structured ones, so that
writers of different fields (the worker's progress, the API's cancel) never overwrite each
other."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from featviz.problems import Problem
from featviz.records import (
    Counts,
    ImageEntry,
    JobKind,
    JobRecord,
    Progress,
    Status,
    WaitingFor,
    WebhookState,
    WorkerInfo,
)

# Fields of the record hash that hold JSON values; the rest are plain strings.
_JSON_FIELDS = ("spec", "worker", "error", "counts")
FILE_FIELD_PREFIX = "file:"

HashFields = dict[str | bytes, bytes | float | int | str]


def now() -> str:
    """A record's timestamp."""
    return datetime.now(UTC).isoformat()


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
    waiting_for: WaitingFor | None = None
    """Set on a top-level job submitted while no worker was alive; a worker's claim clears it."""
    webhook: str | None = None
    """The URL its events are posted to; top-level jobs only."""
    webhook_events: tuple[str, ...] = ()


def image_field(entry: ImageEntry, column: int) -> str:
    """The hash field of an image entry: one per image of the batch and iteration."""
    return f"{entry.filter}:{column}:{entry.iteration}"


def encode_new(job: NewJob) -> HashFields:
    """The hash of a job just recorded, ``queued``."""
    created = now()
    fields: HashFields = {
        "id": job.id,
        "kind": job.kind,
        "owner": job.owner,
        "status": "queued",
        "spec": json.dumps(job.spec),
        "parent": job.parent or "",
        "created_at": created,
        "updated_at": created,
        "started_at": "",
        "finished_at": "",
        "attempts": 0,
        "heartbeat_at": "",
        "cancel_requested": "0",
        "progress_iteration": 0,
        "progress_total": job.total_iterations,
    }
    if job.waiting_for is not None:
        fields["waiting_for"] = job.waiting_for
    if job.packs:
        fields |= {
            "packs_total": job.packs,
            "count_total": job.filters,
            "count_succeeded": 0,
            "count_failed": 0,
            "count_canceled": 0,
        }
    if job.webhook:
        fields |= {
            "webhook_url": job.webhook,
            "webhook_events": ",".join(job.webhook_events),
            **dict.fromkeys(_WEBHOOK_COUNTERS, 0),
            **dict.fromkeys(_WEBHOOK_LAST, ""),
        }
    return fields


# How a job's webhook deliveries went, as featviz/store/lua/settle_delivery.lua counts them,
# and its last attempt ('': none yet).
_WEBHOOK_COUNTERS = ("webhook_pending", "webhook_delivered", "webhook_given_up", "webhook_attempts")
_WEBHOOK_LAST = ("webhook_last_event", "webhook_last_attempt_at", "webhook_last_status",
                 "webhook_last_error")  # fmt: skip


def _webhook(fields: dict[str, str]) -> WebhookState | None:
    if "webhook_url" not in fields:
        return None
    values: dict[str, str | None] = {
        name.removeprefix("webhook_"): fields[name] for name in _WEBHOOK_COUNTERS
    }
    values |= {name.removeprefix("webhook_"): fields[name] or None for name in _WEBHOOK_LAST}
    return WebhookState.model_validate(
        {"url": fields["webhook_url"], "events": fields["webhook_events"].split(",")} | values
    )


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _images(raw: list[str]) -> list[ImageEntry]:
    entries = [ImageEntry.model_validate_json(item) for item in raw]
    return sorted(entries, key=lambda e: (e.filter, e.tv_weight, e.iteration))


def decode(fields: dict[str, str], snapshots: list[str], finals: list[str]) -> JobRecord:
    """The record a job's hash and its image-entry hashes hold."""
    values: dict[str, Any] = {
        name: json.loads(fields[name]) for name in _JSON_FIELDS if fields.get(name)
    }
    files = {
        name.removeprefix(FILE_FIELD_PREFIX): key
        for name, key in fields.items()
        if name.startswith(FILE_FIELD_PREFIX)
    }
    counts = None
    if "count_total" in fields:
        counts = Counts(
            total=int(fields["count_total"]),
            succeeded=int(fields["count_succeeded"]),
            failed=int(fields["count_failed"]),
            canceled=int(fields["count_canceled"]),
        )
    return JobRecord(
        id=fields["id"],
        kind=cast(JobKind, fields["kind"]),
        owner=fields["owner"],
        status=cast(Status, fields["status"]),
        spec=values["spec"],
        parent=fields["parent"] or None,
        created_at=datetime.fromisoformat(fields["created_at"]),
        updated_at=datetime.fromisoformat(fields["updated_at"]),
        started_at=_time(fields["started_at"]),
        finished_at=_time(fields["finished_at"]),
        progress=Progress(
            iteration=int(fields["progress_iteration"]),
            total=int(fields["progress_total"]),
        ),
        attempts=int(fields["attempts"]),
        worker=WorkerInfo.model_validate(values["worker"]) if "worker" in values else None,
        heartbeat_at=_time(fields.get("heartbeat_at")),
        error=Problem.model_validate(values["error"]) if "error" in values else None,
        cancel_requested=fields["cancel_requested"] == "1",
        waiting_for=cast(WaitingFor, fields["waiting_for"]) if fields.get("waiting_for") else None,
        snapshots=_images(snapshots),
        finals=_images(finals),
        files=files,
        counts=counts,
        webhook=_webhook(fields),
    )
