"""Models that API keys upload: their records in Redis and how a ready one joins the catalog.

Layout (under the job store's ``fv:`` prefix):

- ``fv:model:{id}``: a hash, one field per record attribute (``layers`` as JSON);
- ``fv:owner-models:{owner}``: the owner's model ids (a sorted set; ids sort by creation time).

An upload is recorded ``validating``; a worker loads it and moves it, once, to ``ready`` (with
its layers) or ``rejected`` (with the reason). The move is a Lua script, so a model deleted while
it was being validated stays deleted.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Literal, cast

import redis
from pydantic import BaseModel, Field

from featviz import outbox
from featviz.catalog import UPLOADED_MODEL_ID_PREFIX, CatalogLayer, CatalogModel
from featviz.model_files import MODEL_FILE_SUFFIX, InputRange
from featviz.store import PREFIX, new_job_id

ModelStatus = Literal["validating", "ready", "rejected"]


def new_model_id() -> str:
    """An id that sorts by creation time and cannot be mistaken for a catalog name."""
    return f"{UPLOADED_MODEL_ID_PREFIX}{new_job_id()}"


def model_file_key(owner: str, model_id: str) -> str:
    """The storage key of an uploaded file: in the uploading key's namespace."""
    return f"models/{owner}/{model_id}{MODEL_FILE_SUFFIX}"


class UserModel(BaseModel):
    """An uploaded model as the store keeps it."""

    model_config = {"protected_namespaces": ()}

    id: str = Field(description="what jobs name as their `model`")
    owner: str
    name: str
    status: ModelStatus
    input_range: InputRange
    created_at: datetime
    updated_at: datetime
    size_bytes: int
    file_key: str = Field(description="storage key of the .keras file")
    input_size: int | None = Field(
        default=None, description="the one image size the model takes; null when any goes"
    )
    min_input_size: int | None = None
    layers: list[CatalogLayer] = Field(default_factory=list)
    reason: str | None = Field(default=None, description="why the model was rejected")

    def as_catalog_model(self) -> CatalogModel:
        """The model as job specs are validated against it (ready models only)."""
        assert self.min_input_size is not None, "ready models have their catalog"
        return CatalogModel(
            name=self.id,
            input_size=self.input_size or self.min_input_size,
            min_input_size=self.min_input_size,
            preprocessing=self.input_range,
            layers=self.layers,
            fixed_input_size=self.input_size,
        )


class ModelCatalogEntry(BaseModel):
    """What a worker found in a valid upload."""

    input_size: int | None
    min_input_size: int
    layers: list[CatalogLayer]


def model_key(model_id: str) -> str:
    return f"{PREFIX}:model:{model_id}"


def owner_models_key(owner: str) -> str:
    return f"{PREFIX}:owner-models:{owner}"


# KEYS: record. ARGV: now, to-status, then field/value pairs to set. Moves a validating model on;
# returns 0 when it is gone (deleted) or already settled.
_SETTLE = """
if redis.call('HGET', KEYS[1], 'status') ~= 'validating' then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'updated_at', ARGV[1])
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
"""


class ModelStore:
    """Uploaded-model records in Redis (a client created with ``decode_responses=True``)."""

    def __init__(self, client: redis.Redis[str]) -> None:
        self.redis = client
        self._settle = client.register_script(_SETTLE)

    def create(
        self, model_id: str, owner: str, name: str, input_range: InputRange, size_bytes: int
    ) -> UserModel:
        """Record an upload whose file is already stored, as ``validating``, with its
        validation task in the outbox."""
        now = datetime.now(UTC).isoformat()
        fields: dict[str | bytes, bytes | float | int | str] = {
            "id": model_id,
            "owner": owner,
            "name": name,
            "status": "validating",
            "input_range": input_range,
            "created_at": now,
            "updated_at": now,
            "size_bytes": size_bytes,
            "file_key": model_file_key(owner, model_id),
        }
        queued_at = outbox.redis_now(self.redis)
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(model_key(model_id), mapping=fields)
            pipe.zadd(owner_models_key(owner), {model_id: 0})
            outbox.stage(pipe, [outbox.entry("validate", model_id)], queued_at)
            pipe.execute()
        record = self.get(model_id)
        assert record is not None, "just created"
        return record

    def get(self, model_id: str) -> UserModel | None:
        fields = self.redis.hgetall(model_key(model_id))
        if not fields:
            return None
        values: dict[str, object] = dict(fields)
        values["layers"] = json.loads(fields.get("layers", "[]"))
        for optional in ("input_size", "min_input_size", "reason"):
            if fields.get(optional, "") == "":
                values.pop(optional, None)
        return UserModel.model_validate(values)

    def get_owned(self, model_id: str, owner: str) -> UserModel | None:
        """The record if ``owner`` uploaded it; another key's model is as absent as none."""
        record = self.get(model_id)
        return record if record is not None and record.owner == owner else None

    def list_owned(self, owner: str) -> list[UserModel]:
        """The owner's models, newest first."""
        ids = self.redis.zrevrangebylex(owner_models_key(owner), "+", "-")
        records = (self.get(model_id) for model_id in ids)
        return [record for record in records if record is not None]

    def count_validation_attempt(self, model_id: str) -> int:
        """Count a worker starting to validate the model; returns the attempts so far."""
        return int(self.redis.hincrby(model_key(model_id), "validation_attempts", 1))

    def mark_ready(self, model_id: str, entry: ModelCatalogEntry) -> bool:
        """Record a validated model's catalog; False when it was deleted meanwhile."""
        layers = json.dumps([layer.model_dump() for layer in entry.layers])
        return self._move(
            model_id,
            "ready",
            layers=layers,
            input_size="" if entry.input_size is None else str(entry.input_size),
            min_input_size=str(entry.min_input_size),
        )

    def mark_rejected(self, model_id: str, reason: str) -> bool:
        """Record why a model cannot be used; False when it was deleted or settled meanwhile."""
        return self._move(model_id, "rejected", reason=reason)

    def _move(self, model_id: str, to: ModelStatus, **fields: str) -> bool:
        now = datetime.now(UTC).isoformat()
        pairs = [item for pair in fields.items() for item in pair]
        return bool(self._settle(keys=[model_key(model_id)], args=[now, to, *pairs]))

    def delete(self, model_id: str, owner: str) -> bool:
        """Remove the owner's model record; False when there was none."""
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(model_key(model_id))
            pipe.zrem(owner_models_key(owner), model_id)
            deleted, _ = cast(list[int], pipe.execute())
        return bool(deleted)
