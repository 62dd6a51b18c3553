"""Problem details (RFC 9457) that the API answers with and job records keep as their error."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

PROBLEM_TYPE_BASE = "urn:featviz:problem:"


class FieldProblem(BaseModel):
    """One invalid field of a request."""

    field: str = Field(description="dotted path of the field, e.g. snapshots.3")
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details, with the invalid fields of a 422."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldProblem] | None = None


def problem(
    status: int,
    kind: str,
    title: str,
    detail: str | None = None,
    errors: list[FieldProblem] | None = None,
) -> Problem:
    """A problem whose type is ``urn:featviz:problem:{kind}``."""
    return Problem(
        type=f"{PROBLEM_TYPE_BASE}{kind}", title=title, status=status, detail=detail, errors=errors
    )


def invalid_field(field: str, message: str) -> Problem:
    """The 422 for one invalid field of a job spec."""
    return problem(
        422,
        "invalid-request",
        "Invalid request",
        f"{field}: {message}",
        [FieldProblem(field=field, message=message)],
    )
