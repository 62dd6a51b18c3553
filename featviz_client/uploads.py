"""Uploaded models as the SDK hands them out: the latest record, ``wait()`` until validated.

``ModelUpload`` blocks; ``AsyncModelUpload`` has the same methods as coroutines.
"""

from __future__ import annotations

from typing import Self

from featviz_client.jobs import AsyncRunner, BlockingRunner
from featviz_client.models import Layer, ModelStatus, UploadedModel
from featviz_client.operations import Api

DEFAULT_POLL_INTERVAL_S = 0.5


class _UploadState:
    """What an upload's latest record says."""

    record: UploadedModel

    @property
    def id(self) -> str:
        """What a job's ``model`` names."""
        return self.record.id

    @property
    def status(self) -> ModelStatus:
        return self.record.status

    @property
    def layers(self) -> list[Layer]:
        return self.record.layers

    @property
    def reason(self) -> str | None:
        """Why the model was rejected."""
        return self.record.reason


class ModelUpload(_UploadState):
    """A model this key uploaded; ``Client.upload_model`` hands them out."""

    def __init__(self, api: Api, run: BlockingRunner, record: UploadedModel) -> None:
        self._api = api
        self._run = run
        self.record = record

    def refresh(self) -> Self:
        self.record = self._run(self._api.uploaded_model(self.id))
        return self

    def wait(
        self, timeout: float | None = None, poll_interval: float = DEFAULT_POLL_INTERVAL_S
    ) -> Self:
        """Block until the model is ``ready`` or ``rejected``; check ``status``."""
        self.record = self._run(self._api.wait_model(self.record, timeout, poll_interval))
        return self

    def delete(self) -> None:
        """Delete the model; jobs already queued on it fail when they run."""
        self._run(self._api.delete_model(self.id))


class AsyncModelUpload(_UploadState):
    """``ModelUpload`` with asyncio."""

    def __init__(self, api: Api, run: AsyncRunner, record: UploadedModel) -> None:
        self._api = api
        self._run = run
        self.record = record

    async def refresh(self) -> Self:
        self.record = await self._run(self._api.uploaded_model(self.id))
        return self

    async def wait(
        self, timeout: float | None = None, poll_interval: float = DEFAULT_POLL_INTERVAL_S
    ) -> Self:
        """See ``ModelUpload.wait``."""
        self.record = await self._run(self._api.wait_model(self.record, timeout, poll_interval))
        return self

    async def delete(self) -> None:
        """See ``ModelUpload.delete``."""
        await self._run(self._api.delete_model(self.id))
