"""The SDK's logic without I/O, shared by ``Client`` and ``AsyncClient``.

Each operation is a generator that yields what it needs done (send an ``httpx.Request``,
``Sleep``, open a stream of Server-Sent Events with ``Listen`` and read it with ``NextEvent``)
and is sent the outcome (the ``httpx.Response``, the next ``ServerSentEvent``, or the
``httpx.TransportError`` thrown into it). The clients differ only in how they carry these out:
see ``drivers.py``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from itertools import count
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, TypeVar

import httpx
from httpx_sse import ServerSentEvent
from pydantic import BaseModel
from tqdm import tqdm

from featviz_client.errors import (
    APIConnectionError,
    WaitTimeoutError,
    error_from_response,
    retry_after,
)
from featviz_client.models import (
    Dataset,
    InputRange,
    JobPage,
    JobRecord,
    Model,
    ModelSummary,
    Progress,
    Status,
    Upload,
    UploadedModel,
)
from featviz_client.retry import RetryPolicy
from featviz_client.zipping import zipped

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
U = TypeVar("U", bound=Upload)

CREATE_PATHS = {
    "job": "/v1/jobs",
    "layer_job": "/v1/layer-jobs",
    "comparison": "/v1/comparisons",
    "exemplar_job": "/v1/exemplar-jobs",
}
UPLOAD_PATHS: dict[type[Upload], str] = {UploadedModel: "/v1/models", Dataset: "/v1/datasets"}
MAX_POLL_INTERVAL_S = 2.0


TERMINAL_EVENTS = frozenset({"completed", "failed", "canceled"})
EVENT_STREAM = "text/event-stream"


@dataclass(frozen=True)
class Sleep:
    """Wait before going on (between retries, between polls)."""

    seconds: float


@dataclass(frozen=True)
class Listen:
    """Open a stream of Server-Sent Events: the operation is sent its first event, None when
    it ends at once, or the (read) ``httpx.Response`` when the answer is not an event stream."""

    request: httpx.Request


@dataclass(frozen=True)
class NextEvent:
    """The open stream's next event, or None once it has ended. Any other step closes it."""


NEXT_EVENT = NextEvent()
Outcome = httpx.Response | ServerSentEvent | None
Operation = Generator[httpx.Request | Sleep | Listen | NextEvent, Outcome, T]


def is_event_stream(response: httpx.Response) -> bool:
    """Whether a response is a stream of events (and not, say, a problem)."""
    kind = response.headers.get("content-type", "").partition(";")[0].strip()
    return response.is_success and kind == EVENT_STREAM


def _user_agent() -> str:
    try:
        return f"featviz-client/{version('featviz')}"
    except PackageNotFoundError:
        return "featviz-client"


def _safe_relative(name: str) -> Path:
    """``name`` as a relative path that stays inside the download folder."""
    parts = PurePosixPath(name).parts
    if not parts or PurePosixPath(name).is_absolute() or ".." in parts:
        raise ValueError(f"refusing to write a file named {name!r}")
    return Path(*parts)


def download_plan(record: JobRecord) -> dict[Path, str]:
    """Relative file path -> download link, for every image and file of a job: the job's folder
    as the service lays it out (each image and file comes with its path)."""
    plan: dict[Path, str] = {}
    for image in [*record.snapshots, *record.finals]:
        plan.setdefault(_safe_relative(image.path), image.url)
    for name, url in record.files.items():
        plan.setdefault(_safe_relative(name), url)
    return plan


def _show(bar: tqdm[Any], status: str, progress: Progress) -> None:
    bar.total = progress.total
    bar.update(progress.iteration - bar.n)
    bar.set_postfix(status=status)


def _check_deadline(
    job_id: str, status: str, deadline: float | None, timeout_s: float | None
) -> None:
    """Raise ``WaitTimeoutError`` once the wait is over."""
    if deadline is not None and time.monotonic() >= deadline:
        raise WaitTimeoutError(f"job {job_id} is still {status} after {timeout_s:g} s")


class Api:
    """Builds the service's requests, parses its answers and applies the retry policy.

    Parameters
    ----------
    base_url
        The service, e.g. ``http://127.0.0.1:8000``.
    api_key
        Sent as ``Authorization: Bearer``; never sent to download links, which carry their own
        signature.
    timeout_s
        Per request (connect, read, write and pool each).
    retry
        The retry policy.
    """

    def __init__(self, base_url: str, api_key: str, timeout_s: float, retry: RetryPolicy) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry = retry
        self._timeout = httpx.Timeout(timeout_s).as_dict()
        self._headers = {
            "Authorization": f"Bearer {api_key}",
            "Accept": "application/json",
            "User-Agent": _user_agent(),
        }

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Request:
        present = {name: value for name, value in (params or {}).items() if value is not None}
        return httpx.Request(
            method,
            f"{self.base_url}{path}",
            params=present,
            json=json,
            headers={**self._headers, **(headers or {})},
            extensions={"timeout": self._timeout},
        )

    def send(self, request: httpx.Request, *, retry_safe: bool) -> Operation[httpx.Response]:
        """A successful response to ``request``, retrying as the policy allows.

        Raises
        ------
        APIError
            The typed error of the last answer (``ValidationError``, ``NotFoundError``, ...).
        APIConnectionError
            No answer after the last try.
        """
        for attempt in count(1):
            try:
                response = yield request
            except httpx.TransportError as error:
                if not self.retry.retries_error(error, attempt, retry_safe):
                    raise APIConnectionError(
                        f"{request.method} {request.url}: {type(error).__name__}: {error} "
                        f"(after {attempt} tries)"
                    ) from error
                yield Sleep(self.retry.delay_s(attempt))
                continue
            assert isinstance(response, httpx.Response), "a request is answered with a response"
            if response.is_success:
                return response
            if not self.retry.retries_status(response.status_code, attempt, retry_safe):
                raise error_from_response(response)
            yield Sleep(self.retry.delay_s(attempt, retry_after(response)))
        raise AssertionError("unreachable")

    def _call(self, model: type[M], request: httpx.Request, *, retry_safe: bool) -> Operation[M]:
        response = yield from self.send(request, retry_safe=retry_safe)
        return model.model_validate_json(response.content)

    def create(
        self, kind: str, spec: Mapping[str, Any], idempotency_key: str | None = None
    ) -> Operation[JobRecord]:
        """Create a job of ``kind`` (``job``, ``layer_job``, ``comparison``).

        Every try carries the same ``Idempotency-Key`` (a new one unless given), so a retry
        after a lost answer replays the first job instead of creating a second one.
        """
        key = idempotency_key or str(uuid.uuid4())
        request = self._request(
            "POST", CREATE_PATHS[kind], json=dict(spec), headers={"Idempotency-Key": key}
        )
        return (yield from self._call(JobRecord, request, retry_safe=True))

    def get(self, job_id: str) -> Operation[JobRecord]:
        request = self._request("GET", f"/v1/jobs/{job_id}")
        return (yield from self._call(JobRecord, request, retry_safe=True))

    def cancel(self, job_id: str) -> Operation[JobRecord]:
        # Not retried once sent: a second cancel of a job the first one ended would be a 409.
        request = self._request("POST", f"/v1/jobs/{job_id}/cancel")
        return (yield from self._call(JobRecord, request, retry_safe=False))

    def page(self, status: Status | None, cursor: str | None, limit: int) -> Operation[JobPage]:
        params = {"status": status, "cursor": cursor, "limit": limit}
        request = self._request("GET", "/v1/jobs", params=params)
        return (yield from self._call(JobPage, request, retry_safe=True))

    def webhook_secret(self) -> Operation[str]:
        response = yield from self.send(self._request("GET", "/v1/webhook-secret"), retry_safe=True)
        secret: str = response.json()["secret"]
        return secret

    def models(self) -> Operation[list[ModelSummary]]:
        response = yield from self.send(self._request("GET", "/v1/models"), retry_safe=True)
        return [ModelSummary.model_validate(entry) for entry in response.json()]

    def model(self, name: str) -> Operation[Model]:
        request = self._request("GET", f"/v1/models/{name}")
        return (yield from self._call(Model, request, retry_safe=True))

    def upload(
        self, answer: type[U], name: str, file: BinaryIO, form: Mapping[str, str]
    ) -> Operation[U]:
        """Upload a file, streamed, with its form fields. Not retried: each try is a new upload."""
        request = httpx.Request(
            "POST",
            f"{self.base_url}{UPLOAD_PATHS[answer]}",
            files={"file": (name, file, "application/octet-stream")},
            data=dict(form),
            headers=self._headers,
            extensions={"timeout": self._timeout},
        )
        return (yield from self._call(answer, request, retry_safe=False))

    def upload_model(
        self, path: Path, name: str, input_range: InputRange
    ) -> Operation[UploadedModel]:
        """Upload a ``.keras`` file, streamed from disk."""
        with path.open("rb") as file:
            form = {"name": name, "input_range": input_range}
            return (yield from self.upload(UploadedModel, path.name, file, form))

    def upload_dataset(self, path: Path, name: str) -> Operation[Dataset]:
        """Upload a zip of images, or a folder of them zipped on the way (``zipped``)."""
        with zipped(path) as (filename, file):
            return (yield from self.upload(Dataset, filename, file, {"name": name}))

    def uploaded(self, answer: type[U], ident: str) -> Operation[U]:
        request = self._request("GET", f"{UPLOAD_PATHS[answer]}/{ident}")
        return (yield from self._call(answer, request, retry_safe=True))

    def uploaded_model(self, model_id: str) -> Operation[UploadedModel]:
        return (yield from self.uploaded(UploadedModel, model_id))

    def datasets(self) -> Operation[list[Dataset]]:
        response = yield from self.send(self._request("GET", "/v1/datasets"), retry_safe=True)
        return [Dataset.model_validate(entry) for entry in response.json()]

    def delete_upload(self, answer: type[Upload], ident: str) -> Operation[None]:
        request = self._request("DELETE", f"{UPLOAD_PATHS[answer]}/{ident}")
        yield from self.send(request, retry_safe=True)

    def wait_upload(
        self, record: U, timeout_s: float | None, poll_interval_s: float
    ) -> Operation[U]:
        """Poll until an upload is ready or rejected.

        Raises
        ------
        WaitTimeoutError
            Still validating after ``timeout_s`` seconds.
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while not record.done:
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeoutError(f"{record.id} is still validating after {timeout_s:g} s")
            yield Sleep(poll_interval_s)
            record = yield from self.uploaded(type(record), record.id)
        return record

    def wait(
        self,
        record: JobRecord,
        timeout_s: float | None,
        progress: bool,
        poll_interval_s: float,
    ) -> Operation[JobRecord]:
        """Follow the job's events until it has finished, polling instead when they cannot be
        had; a tqdm bar of iterations on stderr if ``progress``.

        Raises
        ------
        WaitTimeoutError
            The job had not finished after ``timeout_s`` seconds.
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        bar = tqdm(desc=record.id, unit="it", disable=not progress, leave=True)
        try:
            record = yield from self._follow(record, deadline, timeout_s, bar)
            return (yield from self._poll(record, deadline, timeout_s, bar, poll_interval_s))
        finally:
            bar.close()

    def _events(self, job_id: str, last_id: str | None, deadline: float | None) -> httpx.Request:
        """The request of a job's events (after ``last_id``), whose reads give up once the wait
        is over: the stream's heartbeats keep a live one reading meanwhile."""
        timeout = dict(self._timeout)
        if deadline is not None:
            remaining = max(0.0, deadline - time.monotonic())
            timeout["read"] = (
                remaining if timeout["read"] is None else min(timeout["read"], remaining)
            )
        headers = {"Accept": EVENT_STREAM, **({"Last-Event-ID": last_id} if last_id else {})}
        return httpx.Request(
            "GET",
            f"{self.base_url}/v1/jobs/{job_id}/events",
            headers={**self._headers, **headers},
            extensions={"timeout": timeout},
        )

    def _follow(
        self, record: JobRecord, deadline: float | None, timeout_s: float | None, bar: tqdm[Any]
    ) -> Operation[JobRecord]:
        """Read the job's events until its last one, resuming after a lost connection as the
        retry policy allows; the record as it ends, or as it was when the events could not be
        had (an older service, a proxy that does not stream: the caller polls then)."""
        status, last_id, failures = record.status, None, 0
        while not record.done:
            try:
                answer = yield Listen(self._events(record.id, last_id, deadline))
                while isinstance(answer, ServerSentEvent):
                    failures, last_id = 0, answer.id or last_id
                    if answer.event in TERMINAL_EVENTS:
                        return (yield from self.get(record.id))
                    if answer.event == "status":
                        status = answer.json()["status"]
                    if answer.event == "progress":
                        _show(bar, status, Progress.model_validate_json(answer.data))
                    _check_deadline(record.id, status, deadline, timeout_s)
                    answer = yield NEXT_EVENT
            except httpx.TransportError as error:
                _check_deadline(record.id, status, deadline, timeout_s)
                failures += 1
                if self.retry.retries_error(error, failures, safe=True):
                    yield Sleep(self.retry.delay_s(failures))
                    continue
            # Not an event stream, one that ended before the job's last event, or one lost
            # more often than the policy retries.
            break
        return record

    def _poll(
        self,
        record: JobRecord,
        deadline: float | None,
        timeout_s: float | None,
        bar: tqdm[Any],
        poll_interval_s: float,
    ) -> Operation[JobRecord]:
        """Poll until the job has finished."""
        interval = poll_interval_s
        while True:
            _show(bar, record.status, record.progress)
            if record.done:
                return record
            _check_deadline(record.id, record.status, deadline, timeout_s)
            remaining = float("inf") if deadline is None else deadline - time.monotonic()
            yield Sleep(max(0.0, min(interval, remaining)))
            # Quick polls while a short job finishes, calmer ones for a long job.
            interval = min(interval * 1.5, max(poll_interval_s, MAX_POLL_INTERVAL_S))
            record = yield from self.get(record.id)

    def download(self, record: JobRecord, directory: Path) -> Operation[list[Path]]:
        """Write the job's images and files under ``directory``; returns the paths written."""
        written: list[Path] = []
        for relative, url in download_plan(record).items():
            # Signed links carry their own credential: no API key (S3 would refuse two).
            request = httpx.Request("GET", url, extensions={"timeout": self._timeout})
            response = yield from self.send(request, retry_safe=True)
            target = directory / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(response.content)
            written.append(target)
        return written
