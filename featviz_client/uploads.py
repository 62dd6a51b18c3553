"""What a key uploaded, as the SDK hands it out: the latest record, ``wait()`` until validated.

``ModelUpload`` and ``DatasetUpload`` block; ``AsyncModelUpload`` and ``AsyncDatasetUpload``
have the same methods as coroutines.
"""

from __future__ import annotations

from typing import Generic, Self, TypeVar

from featviz_client.jobs import AsyncRunner, BlockingRunner
from featviz_client.models import Dataset, Layer, ModelStatus, Upload, UploadedModel
from featviz_client.operations import Api

DEFAULT_POLL_INTERVAL_S = 0.5

U = TypeVar("U", bound=Upload)


class _UploadState(Generic[U]):
    """What an upload's latest record says."""

    record: U

    @property
    def id(self) -> str:
        """What a job names: its ``model``, or an exemplar job's ``dataset``."""
        return self.record.id

    @property
    def status(self) -> ModelStatus:
        return self.record.status

    @property
    def reason(self) -> str | None:
        """Why the upload was rejected."""
        return self.record.reason


class _Blocking(_UploadState[U]):
    def __init__(self, api: Api, run: BlockingRunner, record: U) -> None:
        self._api = api
        self._run = run
        self.record = record

    def refresh(self) -> Self:
        self.record = self._run(self._api.uploaded(type(self.record), self.id))
        return self

    def wait(
        self, timeout: float | None = None, poll_interval: float = DEFAULT_POLL_INTERVAL_S
    ) -> Self:
        """Block until the upload is ``ready`` or ``rejected``; check ``status``."""
        self.record = self._run(self._api.wait_upload(self.record, timeout, poll_interval))
        return self

    def delete(self) -> None:
        """Delete it; jobs already queued on it fail when they run."""
        self._run(self._api.delete_upload(type(self.record), self.id))


class _Async(_UploadState[U]):
    def __init__(self, api: Api, run: AsyncRunner, record: U) -> None:
        self._api = api
        self._run = run
        self.record = record

    async def refresh(self) -> Self:
        self.record = await self._run(self._api.uploaded(type(self.record), self.id))
        return self

    async def wait(
        self, timeout: float | None = None, poll_interval: float = DEFAULT_POLL_INTERVAL_S
    ) -> Self:
        """See ``ModelUpload.wait``."""
        self.record = await self._run(self._api.wait_upload(self.record, timeout, poll_interval))
        return self

    async def delete(self) -> None:
        """See ``ModelUpload.delete``."""
        await self._run(self._api.delete_upload(type(self.record), self.id))


class _ModelState(_UploadState[UploadedModel]):
    @property
    def layers(self) -> list[Layer]:
        return self.record.layers


class _DatasetState(_UploadState[Dataset]):
    @property
    def image_count(self) -> int | None:
        """Its images, once ready."""
        return self.record.image_count


class ModelUpload(_Blocking[UploadedModel], _ModelState):
    """A model this key uploaded; ``Client.upload_model`` hands them out."""


class AsyncModelUpload(_Async[UploadedModel], _ModelState):
    """``ModelUpload`` with asyncio."""


class DatasetUpload(_Blocking[Dataset], _DatasetState):
    """A dataset this key uploaded; ``Client.upload_dataset`` hands them out."""


class AsyncDatasetUpload(_Async[Dataset], _DatasetState):
    """``DatasetUpload`` with asyncio."""
