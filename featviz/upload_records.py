"""Records of what API keys upload (models, datasets), in Redis: one way to keep them for both.

Layout (under the job store's ``fv:`` prefix), for a ``kind`` such as ``model``:

- ``fv:{kind}:{id}``: a hash, one field per record attribute (structured ones as JSON);
- ``fv:owner-{kind}s:{owner}``: the owner's ids (a sorted set; ids sort by creation time).

An upload is recorded ``validating`` with its validation task in the outbox; a worker moves it,
once, to ``ready`` or ``rejected`` (with the reason). The move is a Lua script, so an upload
deleted while it was being validated stays deleted.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Generic, Literal, TypeVar, cast

import redis
from pydantic import BaseModel, Field

from featviz import outbox
from featviz.store import PREFIX

UploadStatus = Literal["validating", "ready", "rejected"]


class UploadRecord(BaseModel):
    """What every upload's record holds."""

    id: str
    owner: str
    name: str
    status: UploadStatus
    created_at: datetime
    updated_at: datetime
    size_bytes: int
    file_key: str = Field(description="storage key of the uploaded file")
    reason: str | None = Field(default=None, description="why it was rejected")


Record = TypeVar("Record", bound=UploadRecord)

# KEYS: record. ARGV: now, to-status, then field/value pairs to set. Moves a validating upload
# on; returns 0 when it is gone (deleted) or already settled.
_SETTLE = """
if redis.call('HGET', KEYS[1], 'status') ~= 'validating' then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'updated_at', ARGV[1])
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
"""

HashFields = dict[str | bytes, bytes | float | int | str]


class UploadRecords(Generic[Record]):
    """Upload records of one kind (a client created with ``decode_responses=True``).

    Subclasses say how a hash becomes a record (``decode``) and what ``ready`` records.
    """

    kind: str
    """``model``, ``dataset``: names the keys."""
    task: outbox.Task
    """The task that validates an upload of this kind."""

    def __init__(self, client: redis.Redis[str]) -> None:
        self.redis = client
        self._settle = client.register_script(_SETTLE)

    def record_key(self, ident: str) -> str:
        return f"{PREFIX}:{self.kind}:{ident}"

    def owner_key(self, owner: str) -> str:
        return f"{PREFIX}:owner-{self.kind}s:{owner}"

    def decode(self, fields: dict[str, str]) -> Record:
        raise NotImplementedError

    def _create(self, ident: str, owner: str, fields: HashFields) -> Record:
        """Record an upload whose file is already stored, ``validating``, with its validation
        task in the outbox."""
        now = datetime.now(UTC).isoformat()
        queued_at = outbox.redis_now(self.redis)
        with self.redis.pipeline(transaction=True) as pipe:
            self._stage_create(pipe, ident, owner, fields, now, queued_at)
            pipe.execute()
        record = self.get(ident)
        assert record is not None, "just created"
        return record

    def _stage_create(
        self,
        pipe: redis.client.Pipeline[str],
        ident: str,
        owner: str,
        fields: HashFields,
        now: str,
        queued_at: float,
    ) -> None:
        """The writes of ``_create``, inside the caller's transaction."""
        base: HashFields = {
            "id": ident,
            "owner": owner,
            "status": "validating",
            "created_at": now,
            "updated_at": now,
        }
        pipe.hset(self.record_key(ident), mapping=base | fields)
        pipe.zadd(self.owner_key(owner), {ident: 0})
        outbox.stage(pipe, [outbox.entry(self.task, ident)], queued_at)

    def get(self, ident: str) -> Record | None:
        fields = self.redis.hgetall(self.record_key(ident))
        return self.decode(fields) if fields else None

    def get_owned(self, ident: str, owner: str) -> Record | None:
        """The record if ``owner`` uploaded it; another key's upload is as absent as none."""
        record = self.get(ident)
        return record if record is not None and record.owner == owner else None

    def list_owned(self, owner: str) -> list[Record]:
        """The owner's uploads, newest first."""
        ids = self.redis.zrevrangebylex(self.owner_key(owner), "+", "-")
        records = (self.get(ident) for ident in ids)
        return [record for record in records if record is not None]

    def count_validation_attempt(self, ident: str) -> int:
        """Count a worker starting to validate the upload; returns the attempts so far."""
        return int(self.redis.hincrby(self.record_key(ident), "validation_attempts", 1))

    def mark_rejected(self, ident: str, reason: str) -> bool:
        """Record why an upload cannot be used; False when it was deleted or settled meanwhile."""
        return self._move(ident, "rejected", reason=reason)

    def _move(self, ident: str, to: UploadStatus, **fields: str) -> bool:
        now = datetime.now(UTC).isoformat()
        pairs = [item for pair in fields.items() for item in pair]
        return bool(self._settle(keys=[self.record_key(ident)], args=[now, to, *pairs]))

    def delete(self, ident: str, owner: str) -> bool:
        """Remove the owner's record; False when there was none."""
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self.record_key(ident))
            pipe.zrem(self.owner_key(owner), ident)
            deleted, _ = cast(list[int], pipe.execute())
        return bool(deleted)
