"""Jobs as the SDK hands them out: the latest record, and what can be done with the job.

``Job``, ``LayerJob``, ``Comparison`` and ``ExemplarJob`` block; their ``Async`` twins have the
same methods as coroutines. What they report is shared.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, Protocol, Self, TypeVar

from featviz_client.errors import JobFailedError
from featviz_client.models import (
    Counts,
    Image,
    JobKind,
    JobRecord,
    Metrics,
    Problem,
    Progress,
    Status,
)
from featviz_client.operations import Api, Operation

T = TypeVar("T")
DEFAULT_POLL_INTERVAL_S = 0.25
SHEET_FILE = "sheet.png"


class BlockingRunner(Protocol):
    def __call__(self, operation: Operation[T]) -> T: ...


class AsyncRunner(Protocol):
    def __call__(self, operation: Operation[T]) -> Awaitable[T]: ...


class _JobState:
    """What a job's latest record says."""

    record: JobRecord

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def kind(self) -> JobKind:
        return self.record.kind

    @property
    def status(self) -> Status:
        return self.record.status

    @property
    def done(self) -> bool:
        """Whether the job has finished (succeeded, failed or canceled)."""
        return self.record.done

    @property
    def spec(self) -> dict[str, Any]:
        """The job's spec with the service's defaults filled in."""
        return self.record.spec

    @property
    def progress(self) -> Progress:
        return self.record.progress

    @property
    def snapshots(self) -> list[Image]:
        """The images saved at the spec's snapshot iterations so far, with their metrics."""
        return self.record.snapshots

    @property
    def finals(self) -> list[Image]:
        """The last image of each filter (or TV weight), once finished."""
        return self.record.finals

    @property
    def files(self) -> dict[str, str]:
        """Path in the job's folder (``sheet.png``, ``result.json``, ...) -> download link."""
        return self.record.files

    @property
    def error(self) -> Problem | None:
        """Why the job failed."""
        return self.record.error

    @property
    def metrics(self) -> Metrics | None:
        """The metrics of the newest image: the final one once finished, else the latest
        snapshot; None before the first snapshot."""
        images = self.record.finals or self.record.snapshots
        return images[-1].metrics if images else None

    def _raise_unless_succeeded(self) -> None:
        if self.record.status != "succeeded":
            raise JobFailedError(self.record)

    def __repr__(self) -> str:
        progress = self.record.progress
        return (
            f"<{type(self).__name__} {self.id} {self.status} {progress.iteration}/{progress.total}>"
        )


class _SheetState(_JobState):
    @property
    def contact_sheet(self) -> str | None:
        """Download link of the contact sheet (a comparison's grid), once finished."""
        return self.record.files.get(SHEET_FILE)


class _CountedState(_JobState):
    @property
    def counts(self) -> Counts:
        """Filters (an exemplar job's images) by outcome: total, succeeded, failed, canceled."""
        return self.record.counts or Counts()


class _LayerState(_SheetState, _CountedState):
    pass


class Job(_JobState):
    """A job of the service; ``Client.submit`` and ``Client.jobs`` hand them out."""

    def __init__(self, api: Api, run: BlockingRunner, record: JobRecord) -> None:
        self._api = api
        self._run = run
        self.record = record

    def refresh(self) -> Self:
        """Fetch the latest record."""
        self.record = self._run(self._api.get(self.id))
        return self

    def wait(
        self,
        timeout: float | None = None,
        progress: bool = False,
        poll_interval: float = DEFAULT_POLL_INTERVAL_S,
    ) -> Self:
        """Block until the job has finished, whatever the outcome; check ``status``.

        Parameters
        ----------
        timeout
            Seconds to wait at most (default: no limit).
        progress
            Show a tqdm bar of iterations on stderr.
        poll_interval
            Seconds between the first polls; later ones are further apart (up to 2 s).

        Raises
        ------
        WaitTimeoutError
            Still not finished after ``timeout`` seconds (the job goes on).
        """
        self.record = self._run(self._api.wait(self.record, timeout, progress, poll_interval))
        return self

    def cancel(self) -> Self:
        """Ask the job to stop: a queued one at once, a running one within a few iterations.

        Raises
        ------
        ConflictError
            The job has already finished.
        """
        self.record = self._run(self._api.cancel(self.id))
        return self

    def download(self, directory: str | os.PathLike[str]) -> list[Path]:
        """Write the job's snapshots, final images and files (sheets, GIFs, ``result.json``)
        under ``directory``, laid out as the job's folder: ``filter_0005/iter_0005.png``, ...

        Returns
        -------
        list of Path
            The files written.
        """
        return self._run(self._api.download(self.record, Path(directory)))


class LayerJob(Job, _LayerState):
    """Many filters of a layer: ``counts`` and, once finished, a ``contact_sheet`` of them all
    (``sheet.png`` in ``download()``)."""


class Comparison(Job, _SheetState):
    """One filter under several TV weights: ``contact_sheet`` is the grid (rows: snapshots,
    columns: TV weights)."""


class ExemplarJob(Job, _CountedState):
    """A dataset's images ranked per filter: ``counts`` are images; once finished ``files``
    holds each filter's ``filter_0003/exemplars.png`` (the crops around each peak, best first),
    ``filter_0003/exemplars_full.png`` (the whole images, the crop outlined) and ``result.json``
    (image ids, scores, positions); ``download()`` writes them all."""


class AsyncJob(_JobState):
    """``Job`` for ``AsyncClient``: the same methods, as coroutines."""

    def __init__(self, api: Api, run: AsyncRunner, record: JobRecord) -> None:
        self._api = api
        self._run = run
        self.record = record

    async def refresh(self) -> Self:
        """Fetch the latest record."""
        self.record = await self._run(self._api.get(self.id))
        return self

    async def wait(
        self,
        timeout: float | None = None,
        progress: bool = False,
        poll_interval: float = DEFAULT_POLL_INTERVAL_S,
    ) -> Self:
        """Wait until the job has finished; see ``Job.wait``."""
        self.record = await self._run(self._api.wait(self.record, timeout, progress, poll_interval))
        return self

    async def cancel(self) -> Self:
        """Ask the job to stop; see ``Job.cancel``."""
        self.record = await self._run(self._api.cancel(self.id))
        return self

    async def download(self, directory: str | os.PathLike[str]) -> list[Path]:
        """Write the job's images and files under ``directory``; see ``Job.download``."""
        return await self._run(self._api.download(self.record, Path(directory)))


class AsyncLayerJob(AsyncJob, _LayerState):
    """``LayerJob`` for ``AsyncClient``."""


class AsyncComparison(AsyncJob, _SheetState):
    """``Comparison`` for ``AsyncClient``."""


class AsyncExemplarJob(AsyncJob, _CountedState):
    """``ExemplarJob`` for ``AsyncClient``."""


BLOCKING_JOBS: dict[JobKind, type[Job]] = {
    "job": Job,
    "layer_job": LayerJob,
    "comparison": Comparison,
    "exemplar_job": ExemplarJob,
}
ASYNC_JOBS: dict[JobKind, type[AsyncJob]] = {
    "job": AsyncJob,
    "layer_job": AsyncLayerJob,
    "comparison": AsyncComparison,
    "exemplar_job": AsyncExemplarJob,
}
