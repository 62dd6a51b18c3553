"""What the API answers about jobs: the record, with storage keys turned into each file's path in
the job's folder (featviz.outputs) and a download link."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from pydantic import BaseModel, Field

from featviz import records
from featviz.outputs import ImageFile
from featviz.problems import Problem
from featviz.records import (
    Counts,
    ImageEntry,
    JobKind,
    JobRecord,
    Progress,
    Status,
    WebhookState,
    WorkerInfo,
)
from featviz.signing import LinkSigner
from featviz.storage import Storage


class ImageView(ImageFile):
    """One image of a job: a snapshot or a final image, with its metrics."""

    url: str = Field(description="expiring download link")


class JobView(BaseModel):
    """A job, a layer job or a comparison as clients see it."""

    id: str
    kind: JobKind
    status: Status
    spec: dict[str, Any]
    progress: Progress
    attempts: int
    worker: WorkerInfo | None = Field(description="the process running it, while it runs")
    heartbeat_at: datetime | None = Field(description="when that process last renewed its lease")
    error: Problem | None = Field(description="why it failed")
    cancel_requested: bool
    waiting_for: records.WaitingFor | None = Field(
        description="worker: no worker was alive when it was submitted, so it waits for one; "
        "cleared once a worker takes it"
    )
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    snapshots: list[ImageView]
    finals: list[ImageView] = Field(description="the last image of each filter (or TV weight)")
    files: dict[str, str] = Field(
        description="path in the job's folder (sheet.png, filter_0003/progress.gif, ...) -> "
        "download link"
    )
    counts: Counts | None = Field(description="filters by outcome, for layer jobs")
    webhook: WebhookState | None = Field(description="the job's webhook and its deliveries")
    events_url: str = Field(
        description="the job's live events (Server-Sent Events), behind an expiring signed link "
        "that needs no API key, for a browser's EventSource"
    )


class JobPage(BaseModel):
    items: list[JobView]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page")


def events_path(job_id: str) -> str:
    return f"/v1/jobs/{job_id}/events"


def events_subject(job_id: str) -> str:
    """What a link to a job's events signs."""
    return f"events:{job_id}"


class Linker:
    """Turns storage keys into download links, and job ids into links to their events, that
    expire after the configured time."""

    def __init__(
        self, storage: Storage, expiry_s: int, base_url: str, event_links: LinkSigner
    ) -> None:
        self.storage = storage
        self.expiry_s = expiry_s
        self.base_url = base_url.rstrip("/")
        self.event_links = event_links

    def events_url(self, job_id: str) -> str:
        query = self.event_links.query(events_subject(job_id), self.expiry_s)
        return f"{self.base_url}{events_path(job_id)}?{urlencode(query)}"

    def url(self, key: str) -> str:
        link = self.storage.url(key, self.expiry_s)
        # Local storage links are paths on this API.
        return f"{self.base_url}{link}" if link.startswith("/") else link

    def image(self, entry: ImageEntry) -> ImageView:
        file = ImageFile.recorded(entry)
        return ImageView(url=self.url(entry.key), **file.model_dump())

    def job(self, record: JobRecord) -> JobView:
        return JobView(
            **record.model_dump(exclude={"owner", "parent", "snapshots", "finals", "files"}),
            snapshots=[self.image(entry) for entry in record.snapshots],
            finals=[self.image(entry) for entry in record.finals],
            files={path: self.url(key) for path, key in sorted(record.files.items())},
            events_url=self.events_url(record.id),
        )
