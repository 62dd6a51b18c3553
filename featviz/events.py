"""A job's events: what its one ordered stream says, read by Server-Sent Events and webhooks alike.

Each top-level job (a job, a layer job, a comparison) has a stream in Redis
(``featviz.store.keys.events_key``), written by the store's scripts in the same step as the
change each event announces (``featviz/store/lua/fragments/events.lua``), so a reader never sees
an event before its change, nor a change without its event:

- ``status``: the job is ``queued`` (when recorded, and when queued again) or ``running``;
- ``progress``: ``{"iteration", "total"}``, as often as the worker writes the record's progress
  (``FEATVIZ_PROGRESS_INTERVAL_S``);
- ``snapshot``: an image entry (filter, TV weight, iteration, metrics, storage key), once stored;
- ``completed``, ``failed``, ``canceled``: the last event, with the final ``status`` and, when
  it failed, its ``error``.

A run repeated after its worker died repeats its progress and snapshots.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, get_args

EventType = Literal["status", "progress", "snapshot", "completed", "failed", "canceled"]
EVENT_TYPES: tuple[EventType, ...] = get_args(EventType)
TERMINAL_EVENTS: frozenset[str] = frozenset({"completed", "failed", "canceled"})


@dataclass(frozen=True)
class JobEvent:
    """One event of a job's stream."""

    id: str
    """The stream entry's id (``{milliseconds}-{n}``): increasing within a job, so a reader
    resumes after the last one it saw."""
    type: EventType
    data: dict[str, Any]

    @classmethod
    def of(cls, entry_id: str, kind: str, data: dict[str, Any]) -> JobEvent:
        """The event of a stream entry, checked to be of a known type.

        Raises
        ------
        ValueError
            When ``kind`` is no event type.
        """
        for known in EVENT_TYPES:
            if kind == known:
                return cls(entry_id, known, data)
        raise ValueError(f"event {entry_id} has an unknown type {kind!r}")

    @classmethod
    def parse(cls, entry_id: str, fields: dict[str, str]) -> JobEvent:
        """An event as the stream keeps it: its ``type`` and its ``data`` as JSON."""
        return cls.of(entry_id, fields["type"], json.loads(fields["data"]))

    @property
    def terminal(self) -> bool:
        """Whether this is the job's last event."""
        return self.type in TERMINAL_EVENTS

    @property
    def at(self) -> datetime:
        """When it happened, by Redis's clock."""
        milliseconds = int(self.id.partition("-")[0])
        return datetime.fromtimestamp(milliseconds / 1000, UTC)
