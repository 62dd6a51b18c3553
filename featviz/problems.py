"""Problem details (RFC 9457) that the API answers with and job records keep as their error."""

from __future__ import annotations

from featviz.schemas import FieldProblem, Problem

PROBLEM_TYPE_BASE = "urn:featviz:problem:"


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
