"""``Client`` and ``AsyncClient``: the same surface, blocking or with asyncio.

Both build their requests, parse answers, map errors and retry through ``operations.Api``;
only the driver that carries out the requests differs (``drivers.py``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self, TypeVar, Unpack

import httpx

from featviz_client.drivers import run_async, run_blocking
from featviz_client.jobs import (
    ASYNC_JOBS,
    BLOCKING_JOBS,
    AsyncComparison,
    AsyncExemplarJob,
    AsyncJob,
    AsyncLayerJob,
    Comparison,
    ExemplarJob,
    Job,
    LayerJob,
)
from featviz_client.models import Dataset, InputRange, JobRecord, Model, ModelSummary, Status
from featviz_client.operations import Api, Operation
from featviz_client.retry import RetryPolicy
from featviz_client.specs import (
    ComparisonSpec,
    ExemplarParams,
    JobSpec,
    LayerParams,
    comparison_body,
    exemplar_job_body,
    layer_job_body,
)
from featviz_client.uploads import (
    AsyncDatasetUpload,
    AsyncModelUpload,
    DatasetUpload,
    ModelUpload,
)

T = TypeVar("T")
URL_VARIABLE = "FEATVIZ_API_URL"
KEY_VARIABLE = "FEATVIZ_API_KEY"
DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_PAGE_SIZE = 50


def _api(base_url: str | None, api_key: str | None, timeout: float, retry: RetryPolicy) -> Api:
    key = api_key or os.environ.get(KEY_VARIABLE)
    if not key:
        raise ValueError(f"no API key: pass api_key= or set {KEY_VARIABLE}")
    url = base_url or os.environ.get(URL_VARIABLE) or DEFAULT_URL
    return Api(url, key, timeout, retry)


class Client:
    """The featviz service from Python.

    Parameters
    ----------
    base_url
        The service; default ``$FEATVIZ_API_URL``, else ``http://127.0.0.1:8000``.
    api_key
        Default ``$FEATVIZ_API_KEY``.
    timeout
        Seconds per request.
    retry
        When to retry: connection errors, 502, 503 and 504 by default, for reads and creates.
    transport
        An httpx transport, e.g. ``httpx.HTTPTransport(proxy=...)``.

    Examples
    --------
    >>> client = Client("http://127.0.0.1:8000", api_key="...")
    >>> job = client.submit(layer="conv3_block1_out", filter=7, weights="random",
    ...                     iterations=60, snapshots=[5, 10, 50], image_size=64)
    >>> job.wait(progress=True).status
    'succeeded'
    >>> job.download("out/")
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._api = _api(base_url, api_key, timeout, retry or RetryPolicy())
        self._http = httpx.Client(transport=transport)
        self.jobs = Jobs(self)

    @property
    def base_url(self) -> str:
        return self._api.base_url

    def _run(self, operation: Operation[T]) -> T:
        return run_blocking(operation, self._http)

    def _job(self, record: JobRecord) -> Job:
        return BLOCKING_JOBS[record.kind](self._api, self._run, record)

    def submit(self, *, idempotency_key: str | None = None, **spec: Unpack[JobSpec]) -> Job:
        """Visualise one filter under one TV weight; returns at once with the queued job.

        Parameters
        ----------
        idempotency_key
            Makes the submission safe to repeat: the same key and spec give the same job.
            Default: a new key per call (which its retries share).
        **spec
            ``model``, ``weights``, ``layer``, ``filter``, ``iterations``, ``snapshots``,
            ``learning_rate``, ``tv_weight``, ``tv_start``, ``tv_mode``, ``image_size``,
            ``seed``, ``time_budget_s``; unset ones take the service's defaults.

        Raises
        ------
        ValidationError
            A field is invalid; ``error.field`` names it.
        """
        return self._job(self._run(self._api.create("job", spec, idempotency_key)))

    def run(
        self, *, timeout: float | None = None, progress: bool = False, **spec: Unpack[JobSpec]
    ) -> Job:
        """Submit a job and wait for it; see ``submit`` and ``Job.wait``.

        Raises
        ------
        JobFailedError
            The job failed or was canceled.
        """
        job = self.submit(**spec).wait(timeout=timeout, progress=progress)
        job._raise_unless_succeeded()
        return job

    def layer(
        self,
        model: str,
        layer: str,
        filters: Sequence[int] | range | None = None,
        *,
        idempotency_key: str | None = None,
        **params: Unpack[LayerParams],
    ) -> LayerJob:
        """Visualise many filters of a layer (default: all of them) as one batch job.

        Parameters
        ----------
        filters
            Channel indices, or a ``range`` (sent as a filter range).
        **params
            As ``submit``, plus ``pack_size`` (filters optimised together).
        """
        body = layer_job_body(model, layer, filters, params)
        job = self._job(self._run(self._api.create("layer_job", body, idempotency_key)))
        assert isinstance(job, LayerJob)
        return job

    def compare(
        self,
        tv_weights: Sequence[float] | None = None,
        *,
        idempotency_key: str | None = None,
        **spec: Unpack[ComparisonSpec],
    ) -> Comparison:
        """One filter under several TV weights, side by side (default: 0, 0.0005, 0.001)."""
        body = comparison_body(tv_weights, spec)
        job = self._job(self._run(self._api.create("comparison", body, idempotency_key)))
        assert isinstance(job, Comparison)
        return job

    def exemplars(
        self,
        model: str,
        layer: str,
        dataset: str,
        filters: Sequence[int] | None = None,
        *,
        idempotency_key: str | None = None,
        **params: Unpack[ExemplarParams],
    ) -> ExemplarJob:
        """Rank a dataset's images per filter of a layer (default: all): the ``k`` (default
        9) with the highest peak activation, the crop of the receptive field around each.

        Parameters
        ----------
        dataset
            The id of one of this key's ready datasets (``upload_dataset``).
        **params
            ``weights``, ``k``, ``image_size``.
        """
        body = exemplar_job_body(model, layer, dataset, filters, params)
        job = self._job(self._run(self._api.create("exemplar_job", body, idempotency_key)))
        assert isinstance(job, ExemplarJob)
        return job

    def upload_dataset(self, path: str | os.PathLike[str], name: str) -> DatasetUpload:
        """Upload a zip of PNG/JPEG images, or a folder of them (zipped on the way); returns
        at once, ``validating`` (see ``wait()``). An image's id is its path in the zip."""
        record = self._run(self._api.upload_dataset(Path(path), name))
        return DatasetUpload(self._api, self._run, record)

    def dataset(self, dataset_id: str) -> DatasetUpload:
        """One of this key's datasets."""
        record = self._run(self._api.uploaded(Dataset, dataset_id))
        return DatasetUpload(self._api, self._run, record)

    def datasets(self) -> list[DatasetUpload]:
        """This key's datasets, newest first."""
        return [DatasetUpload(self._api, self._run, r) for r in self._run(self._api.datasets())]

    def webhook_secret(self) -> str:
        """The secret that signs the webhooks of this key's jobs; see ``verify_webhook``."""
        return self._run(self._api.webhook_secret())

    def models(self) -> list[ModelSummary]:
        """The catalog's models."""
        return self._run(self._api.models())

    def model(self, name: str) -> Model:
        """One catalog model with its layers, their channel counts and smallest image sizes."""
        return self._run(self._api.model(name))

    def upload_model(
        self, path: str | os.PathLike[str], name: str, input_range: InputRange
    ) -> ModelUpload:
        """Upload a ``.keras`` model; returns at once, ``validating`` (see ``wait()``).

        Parameters
        ----------
        path
            The ``.keras`` file (Keras 3 format; Lambda layers and custom code are refused).
        name
            A name to know it by; jobs name the model by its ``id``.
        input_range
            What the model expects: ``[0,1]``, ``[-1,1]``, ``[0,255]``, or the
            ``keras.applications`` preprocessing it was trained with: ``caffe``, ``torch``, ``tf``.
        """
        record = self._run(self._api.upload_model(Path(path), name, input_range))
        return ModelUpload(self._api, self._run, record)

    def uploaded_model(self, model_id: str) -> ModelUpload:
        """One of this key's uploads, with its layers once ready."""
        return ModelUpload(self._api, self._run, self._run(self._api.uploaded_model(model_id)))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class Jobs:
    """``client.jobs``: the caller's jobs of every kind."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def get(self, job_id: str) -> Job:
        """A job, layer job or comparison by id.

        Raises
        ------
        NotFoundError
            No such job (or it belongs to another API key).
        """
        client = self._client
        return client._job(client._run(client._api.get(job_id)))

    def list(
        self, status: Status | None = None, page_size: int = DEFAULT_PAGE_SIZE
    ) -> Iterator[Job]:
        """Every job, newest first, fetched a page at a time as the iteration goes."""
        client, cursor = self._client, None
        while True:
            page = client._run(client._api.page(status, cursor, page_size))
            yield from (client._job(record) for record in page.items)
            if page.next_cursor is None:
                return
            cursor = page.next_cursor


class AsyncClient:
    """``Client`` with asyncio: the same parameters and methods, as coroutines."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._api = _api(base_url, api_key, timeout, retry or RetryPolicy())
        self._http = httpx.AsyncClient(transport=transport)
        self.jobs = AsyncJobs(self)

    @property
    def base_url(self) -> str:
        return self._api.base_url

    async def _run(self, operation: Operation[T]) -> T:
        return await run_async(operation, self._http)

    def _job(self, record: JobRecord) -> AsyncJob:
        return ASYNC_JOBS[record.kind](self._api, self._run, record)

    async def submit(
        self, *, idempotency_key: str | None = None, **spec: Unpack[JobSpec]
    ) -> AsyncJob:
        """See ``Client.submit``."""
        return self._job(await self._run(self._api.create("job", spec, idempotency_key)))

    async def run(
        self, *, timeout: float | None = None, progress: bool = False, **spec: Unpack[JobSpec]
    ) -> AsyncJob:
        """See ``Client.run``."""
        job = await (await self.submit(**spec)).wait(timeout=timeout, progress=progress)
        job._raise_unless_succeeded()
        return job

    async def layer(
        self,
        model: str,
        layer: str,
        filters: Sequence[int] | range | None = None,
        *,
        idempotency_key: str | None = None,
        **params: Unpack[LayerParams],
    ) -> AsyncLayerJob:
        """See ``Client.layer``."""
        body = layer_job_body(model, layer, filters, params)
        job = self._job(await self._run(self._api.create("layer_job", body, idempotency_key)))
        assert isinstance(job, AsyncLayerJob)
        return job

    async def compare(
        self,
        tv_weights: Sequence[float] | None = None,
        *,
        idempotency_key: str | None = None,
        **spec: Unpack[ComparisonSpec],
    ) -> AsyncComparison:
        """See ``Client.compare``."""
        body = comparison_body(tv_weights, spec)
        job = self._job(await self._run(self._api.create("comparison", body, idempotency_key)))
        assert isinstance(job, AsyncComparison)
        return job

    async def exemplars(
        self,
        model: str,
        layer: str,
        dataset: str,
        filters: Sequence[int] | None = None,
        *,
        idempotency_key: str | None = None,
        **params: Unpack[ExemplarParams],
    ) -> AsyncExemplarJob:
        """See ``Client.exemplars``."""
        body = exemplar_job_body(model, layer, dataset, filters, params)
        job = self._job(await self._run(self._api.create("exemplar_job", body, idempotency_key)))
        assert isinstance(job, AsyncExemplarJob)
        return job

    async def upload_dataset(self, path: str | os.PathLike[str], name: str) -> AsyncDatasetUpload:
        """See ``Client.upload_dataset``."""
        record = await self._run(self._api.upload_dataset(Path(path), name))
        return AsyncDatasetUpload(self._api, self._run, record)

    async def dataset(self, dataset_id: str) -> AsyncDatasetUpload:
        """See ``Client.dataset``."""
        record = await self._run(self._api.uploaded(Dataset, dataset_id))
        return AsyncDatasetUpload(self._api, self._run, record)

    async def datasets(self) -> list[AsyncDatasetUpload]:
        """See ``Client.datasets``."""
        records = await self._run(self._api.datasets())
        return [AsyncDatasetUpload(self._api, self._run, record) for record in records]

    async def webhook_secret(self) -> str:
        """The secret that signs the webhooks of this key's jobs; see ``verify_webhook``."""
        return await self._run(self._api.webhook_secret())

    async def models(self) -> list[ModelSummary]:
        """See ``Client.models``."""
        return await self._run(self._api.models())

    async def model(self, name: str) -> Model:
        """See ``Client.model``."""
        return await self._run(self._api.model(name))

    async def upload_model(
        self, path: str | os.PathLike[str], name: str, input_range: InputRange
    ) -> AsyncModelUpload:
        """See ``Client.upload_model``."""
        record = await self._run(self._api.upload_model(Path(path), name, input_range))
        return AsyncModelUpload(self._api, self._run, record)

    async def uploaded_model(self, model_id: str) -> AsyncModelUpload:
        """See ``Client.uploaded_model``."""
        record = await self._run(self._api.uploaded_model(model_id))
        return AsyncModelUpload(self._api, self._run, record)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


class AsyncJobs:
    """``client.jobs`` of an ``AsyncClient``."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def get(self, job_id: str) -> AsyncJob:
        """See ``Jobs.get``."""
        client = self._client
        return client._job(await client._run(client._api.get(job_id)))

    async def list(
        self, status: Status | None = None, page_size: int = DEFAULT_PAGE_SIZE
    ) -> AsyncIterator[AsyncJob]:
        """See ``Jobs.list``: ``async for job in client.jobs.list(): ...``."""
        client, cursor = self._client, None
        while True:
            page = await client._run(client._api.page(status, cursor, page_size))
            for record in page.items:
                yield client._job(record)
            if page.next_cursor is None:
                return
            cursor = page.next_cursor
