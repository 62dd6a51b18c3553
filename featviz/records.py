"""What the service keeps: job records, the images and counts they gather, as pydantic models."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from featviz.fields import SpecKind
from featviz.problems import Problem

Status = Literal["queued", "running", "succeeded", "failed", "canceled"]
STATUSES: tuple[Status, ...] = ("queued", "running", "succeeded", "failed", "canceled")
TERMINAL_STATUSES: frozenset[str] = frozenset({"succeeded", "failed", "canceled"})

WaitingFor = Literal["worker"]
"""What a queued job waits for beyond its turn: ``worker``, no worker was alive when it was
submitted (``featviz.capabilities``)."""

JobKind = Literal[SpecKind, "pack", "shard"]
"""A ``pack`` is the part of a layer job that one task optimises together, a ``shard`` the part
of an exemplar job's dataset that one task searches; both are internal."""


class Progress(BaseModel):
    iteration: int = Field(default=0, description="iterations done")
    total: int = Field(default=0, description="iterations in all")


class WorkerInfo(BaseModel):
    """The process running a job."""

    host: str
    pid: int


class ImageFacts(BaseModel):
    """One image of a job, a snapshot or a final image: which it is, its metrics
    (featviz_engine.metrics.snapshot_metrics) and, for a final image, how its start went."""

    filter: int
    tv_weight: float
    iteration: int
    activation: float = Field(description="the filter's mean activation of the optimised image")
    displayed_activation: float | None = Field(
        default=None,
        description="the same of the PNG as displayed, mapped back to the model's input; "
        "absent on images recorded before it was measured",
    )
    total_variation: float
    high_frequency_fraction: float
    dead_at_start: bool | None = Field(
        default=None,
        description="final images: whether the start image gave the filter nothing to climb "
        "(zero activation or gradient); absent on snapshots",
    )
    came_alive_at: int | None = Field(
        default=None,
        description="final images dead at the start: the iteration from which the revived "
        "image took ordinary steps; absent if it never came alive",
    )

    @property
    def never_alive(self) -> bool:
        """A final image dead at the start and still dead at the end: nothing to show."""
        return bool(self.dead_at_start) and self.came_alive_at is None


class ImageEntry(ImageFacts):
    """One stored image of a job and its metrics."""

    key: str = Field(description="storage key")


class Counts(BaseModel):
    """Filters of a layer job (images of an exemplar job) by outcome."""

    total: int = 0
    succeeded: int = 0
    failed: int = 0
    canceled: int = 0


class WebhookState(BaseModel):
    """A job's webhook, and how its deliveries have gone so far."""

    url: str
    events: list[str] = Field(description="the event types it is sent")
    pending: int = Field(default=0, description="events waiting for their first try or a retry")
    delivered: int = Field(default=0, description="events the receiver answered with a 2xx")
    given_up: int = Field(default=0, description="events still undelivered after every attempt")
    attempts: int = Field(default=0, description="requests made, retries included")
    last_event: str | None = Field(default=None, description="the event of the last attempt")
    last_attempt_at: datetime | None = None
    last_status: int | None = Field(
        default=None, description="the HTTP status the last attempt got; null: no answer"
    )
    last_error: str | None = Field(
        default=None, description="why the last attempt failed; null when it was delivered"
    )


class JobRecord(BaseModel):
    """A job as the store keeps it: the source of truth for its status."""

    id: str
    kind: JobKind
    owner: str
    status: Status
    spec: dict[str, Any]
    parent: str | None = None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    progress: Progress = Field(default_factory=Progress)
    attempts: int = 0
    worker: WorkerInfo | None = None
    heartbeat_at: datetime | None = None
    error: Problem | None = None
    cancel_requested: bool = False
    waiting_for: WaitingFor | None = None
    snapshots: list[ImageEntry] = Field(default_factory=list)
    finals: list[ImageEntry] = Field(default_factory=list)
    files: dict[str, str] = Field(default_factory=dict, description="name -> storage key")
    counts: Counts | None = None
    webhook: WebhookState | None = None
