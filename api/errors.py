"""Every error as RFC 9457 ``application/problem+json``; a 422 names each invalid field."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import redis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from featviz.problems import FieldProblem, Problem, problem

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"


class ProblemError(Exception):
    """Raised by routes and dependencies to answer with a problem."""

    def __init__(self, details: Problem, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(details.title)
        self.details = details
        self.headers = dict(headers or {})


UNAVAILABLE_RETRY_AFTER_S = 5


def unavailable(kind: str, detail: str) -> ProblemError:
    """A 503 for a backend the request needs being down; the client retries in a few seconds."""
    return ProblemError(
        problem(503, kind, "Service unavailable", detail),
        {"Retry-After": str(UNAVAILABLE_RETRY_AFTER_S)},
    )


def problem_response(
    request: Request, details: Problem, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    body = details.model_copy(update={"instance": request.url.path})
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=details.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def field_name(location: Sequence[str | int]) -> str:
    """``("body", "snapshots", 3)`` -> ``snapshots.3``; the body as a whole is ``body``."""
    parts = [str(part) for part in location]
    if len(parts) > 1 and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts)


def _message(error: Any) -> str:
    # Our validators' own words, without pydantic's "Value error, " in front of them.
    message: str = error["msg"]
    return message.removeprefix("Value error, ") if error.get("type") == "value_error" else message


BODY_FIELD = "body"
"""The field a problem with the request body as a whole names (``field_name``'s ``body``)."""


def invalid_json_problem(error: Any) -> Problem:
    """The 422 for a body that is not JSON at all: it names the body, not the character
    position that FastAPI puts where a field's name would be."""
    reason = error.get("ctx", {}).get("error", "not JSON")
    position = error["loc"][-1]
    message = f"the body is not valid JSON: {reason} (at offset {position})"
    return problem(
        422,
        "invalid-json",
        "Invalid JSON",
        message,
        [FieldProblem(field=BODY_FIELD, message=message)],
    )


def validation_problem(errors: Sequence[Any]) -> Problem:
    malformed = next((error for error in errors if error.get("type") == "json_invalid"), None)
    if malformed is not None:
        return invalid_json_problem(malformed)
    fields = [
        FieldProblem(field=field_name(error["loc"]), message=_message(error)) for error in errors
    ]
    detail = "; ".join(f"{f.field}: {f.message}" for f in fields)
    return problem(422, "invalid-request", "Invalid request", detail, fields)


async def _on_problem(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ProblemError)
    return problem_response(request, error.details, error.headers)


async def _on_http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    title = HTTPStatus(error.status_code).phrase
    kind = title.lower().replace(" ", "-")
    details = problem(error.status_code, kind, title, str(error.detail))
    return problem_response(request, details, error.headers)


async def _on_validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    return problem_response(request, validation_problem(error.errors()))


async def _on_redis_down(request: Request, error: Exception) -> JSONResponse:
    logger.warning("job store unreachable: %s", error)
    details = problem(503, "store-unavailable", "Service unavailable", "the job store is down")
    return problem_response(request, details, {"Retry-After": "5"})


async def _on_unexpected(request: Request, error: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s", request.url.path, exc_info=error)
    return problem_response(request, problem(500, "internal", "Internal server error"))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(redis.ConnectionError, _on_redis_down)
    app.add_exception_handler(redis.TimeoutError, _on_redis_down)
    app.add_exception_handler(Exception, _on_unexpected)
