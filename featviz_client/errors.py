"""Typed errors: each service answer that is not a success becomes one of these."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus

import httpx
from pydantic import ValidationError as _ModelValidationError

from featviz_client.models import FieldProblem, JobRecord, Problem

PROBLEM_MEDIA_TYPE = "application/problem+json"


class FeatvizError(Exception):
    """Every error the SDK raises."""


class APIConnectionError(FeatvizError):
    """The service could not be reached, even after retrying."""


class WaitTimeoutError(FeatvizError, TimeoutError):
    """A job did not finish within the time ``wait()`` was given; the job goes on."""


class JobFailedError(FeatvizError):
    """``run()``: the job ended without succeeding.

    Attributes
    ----------
    record
        The job's last record; ``record.error`` says why it failed.
    """

    def __init__(self, record: JobRecord) -> None:
        reason = record.error.detail or record.error.title if record.error else record.status
        super().__init__(f"job {record.id} {record.status}: {reason}")
        self.record = record


class APIError(FeatvizError):
    """The service answered with an error.

    Attributes
    ----------
    status
        The HTTP status.
    problem
        The answer's problem details (RFC 9457), or one made from the status when the answer
        was not ``application/problem+json`` (e.g. from a proxy).
    """

    def __init__(self, problem: Problem) -> None:
        text = f"{problem.status} {problem.title}"
        super().__init__(f"{text}: {problem.detail}" if problem.detail else text)
        self.problem = problem
        self.status = problem.status

    @property
    def title(self) -> str:
        return self.problem.title

    @property
    def detail(self) -> str | None:
        return self.problem.detail


class ValidationError(APIError):
    """422: the request was invalid; ``field`` names the (first) invalid field."""

    @property
    def errors(self) -> list[FieldProblem]:
        return list(self.problem.errors or [])

    @property
    def field(self) -> str | None:
        return self.errors[0].field if self.errors else None


class AuthenticationError(APIError):
    """401: the API key is missing or unknown."""


class NotFoundError(APIError):
    """404: no such job or model, or the job belongs to another API key."""


class ConflictError(APIError):
    """409: the request does not fit the job's state, e.g. canceling a finished job."""


class RateLimitedError(APIError):
    """429: too many requests; ``retry_after`` is the seconds to wait, when the service said."""

    def __init__(self, problem: Problem, retry_after: float | None) -> None:
        super().__init__(problem)
        self.retry_after = retry_after


class ServerError(APIError):
    """5xx: the service failed; it may work later."""


_ERRORS_BY_STATUS: dict[int, type[APIError]] = {
    401: AuthenticationError,
    404: NotFoundError,
    409: ConflictError,
    422: ValidationError,
}


def retry_after(response: httpx.Response) -> float | None:
    """The ``Retry-After`` header in seconds (it may be seconds or an HTTP date)."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def problem_of(response: httpx.Response) -> Problem:
    """The answer's problem details, or a problem made from its status line."""
    if response.headers.get("content-type", "").startswith(PROBLEM_MEDIA_TYPE):
        try:
            return Problem.model_validate_json(response.content)
        except _ModelValidationError:
            pass
    try:
        title = HTTPStatus(response.status_code).phrase
    except ValueError:
        title = "Error"
    detail = response.text.strip()[:500] or None
    return Problem(title=title, status=response.status_code, detail=detail)


def error_from_response(response: httpx.Response) -> APIError:
    """The typed error for a response that is not a success."""
    problem = problem_of(response)
    status = response.status_code
    if status == 429:
        return RateLimitedError(problem, retry_after(response))
    if status >= 500:
        return ServerError(problem)
    return _ERRORS_BY_STATUS.get(status, APIError)(problem)
