"""``/v1/jobs/{id}/events``: a job's events as Server-Sent Events (``featviz.events``).

The stream replays the job's kept events (after ``Last-Event-ID`` when a client reconnects),
then each new one as it happens, and ends after the job's last event (``completed``, ``failed``
or ``canceled``); a ``heartbeat`` every ``FEATVIZ_EVENTS_HEARTBEAT_S`` keeps it open. Each event's
``id`` is its stream id, its ``event`` its type, its ``data`` JSON: a snapshot's with its path
and download link, as in the job's record.

Either the API key that owns the job or a signed link (the job's ``events_url``, which a
browser's EventSource can open without headers) may read it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query
from fastapi.security import HTTPAuthorizationCredentials
from sse_starlette import EventSourceResponse, ServerSentEvent

from api.deps import LinkerDep, ServicesDep, bearer, get_owner
from api.errors import ProblemError
from api.routes.jobs import owned_job
from api.views import Linker, events_path, events_subject
from featviz.events import JobEvent
from featviz.problems import problem
from featviz.records import TERMINAL_STATUSES, ImageEntry, JobRecord
from featviz.store.events import FIRST, EventReader
from featviz.store.keys import job_key

router = APIRouter(tags=["jobs"])

EVENT_STREAM = "text/event-stream"
STREAM_ID = r"^\d{1,20}-\d{1,20}$"
STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the job's events, until its last one",
        "content": {EVENT_STREAM: {"schema": {"type": "string"}}},
    },
    401: {"description": "no API key and no signed link, or an unknown key"},
    403: {"description": "an invalid or expired signed link"},
    429: {"description": "over the key's rate limit; see Retry-After"},
    503: {"description": "the job store is down; see Retry-After"},
}


def heartbeat() -> ServerSentEvent:
    """A ``heartbeat`` event without data: a browser's EventSource does not dispatch it, and a
    client that reads every event can tell a quiet stream from a dead one (and stop waiting)."""
    return ServerSentEvent(event="heartbeat")


def public_data(event: JobEvent, linker: Linker) -> dict[str, Any]:
    """What a client is shown of an event: a snapshot as the job's record shows images."""
    if event.type == "snapshot":
        image = linker.image(ImageEntry.model_validate(event.data))
        return image.model_dump(mode="json")
    return event.data


async def stream(
    reader: EventReader, linker: Linker, job_id: str, last_id: str
) -> AsyncIterator[ServerSentEvent]:
    """The job's events after ``last_id``, until its last one."""
    while True:
        events = await reader.after(job_id, last_id)
        for event in events:
            data = json.dumps(public_data(event, linker), separators=(",", ":"))
            yield ServerSentEvent(data, event=event.type, id=event.id)
            last_id = event.id
            if event.terminal:
                return
        if not events and await reader.redis.hget(job_key(job_id), "status") in TERMINAL_STATUSES:
            # Over, with no last event to show for it: a job recorded before events were.
            return


def readable_job(
    services: ServicesDep,
    job_id: str,
    credentials: HTTPAuthorizationCredentials | None,
    expires: int | None,
    signature: str | None,
) -> JobRecord:
    """The job, if the caller holds its key or a genuine signed link to its events."""
    if signature is None or expires is None:
        return owned_job(services.store, job_id, get_owner(services, credentials))
    if not services.event_links.verify(events_subject(job_id), expires, signature):
        raise ProblemError(problem(403, "forbidden", "Forbidden", "invalid or expired link"))
    record = services.store.get(job_id)
    if record is None or record.parent is not None:
        raise ProblemError(problem(404, "not-found", "Not found", f"no job {job_id!r}"))
    return record


@router.get(events_path("{job_id}"), response_class=EventSourceResponse, responses=STREAM_RESPONSES)
def get_job_events(
    job_id: str,
    services: ServicesDep,
    linker: LinkerDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    expires: Annotated[int | None, Query(description="a signed link's expiry")] = None,
    signature: Annotated[
        str | None, Query(max_length=128, description="a signed link's signature")
    ] = None,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            pattern=STREAM_ID,
            description="resume after this event (EventSource sends it when it reconnects)",
        ),
    ] = None,
) -> EventSourceResponse:
    """Any of the caller's jobs' events as Server-Sent Events: ``status``, ``progress``,
    ``snapshot``, then ``completed``, ``failed`` or ``canceled``, after which it ends."""
    record = readable_job(services, job_id, credentials, expires, signature)
    events = stream(services.events, linker, record.id, last_event_id or FIRST)
    return EventSourceResponse(
        events, ping=services.settings.events_heartbeat_s, ping_message_factory=heartbeat
    )
