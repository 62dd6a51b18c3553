"""The OpenAPI document, shaped for generated clients.

Operation ids are the route functions' names (``create_job``, ``get_job``...), so a generated
client has short, stable method names and renaming a route function is renaming the operation.
Every error response is declared as what the server answers: ``application/problem+json`` with
the ``Problem`` schema. Which errors an operation declares is derived here from the route: its
dependencies (a key, the job store), its parameters and its body; a route states in its own
decorator only the errors its own logic raises (``responses={409: {"description": ...}}``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from api.deps import get_models, get_owner, get_store, get_submission, get_uploads
from api.errors import PROBLEM_MEDIA_TYPE
from featviz.problems import Problem

REF_TEMPLATE = "#/components/schemas/{model}"

# FastAPI's own 422 schema, replaced by the Problem the server really answers.
FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")

UNAUTHORIZED = {401: "no API key, or an unknown one"}
OVER_LIMIT = {429: "over the key's rate limit or its queued-job cap; see Retry-After"}
UNAVAILABLE = {503: "the job store, queue or storage is down; see Retry-After"}
INVALID = {422: "invalid request; `errors` names each invalid field"}

# The errors a dependency can answer, whatever the route.
DEPENDENCY_PROBLEMS: dict[Callable[..., Any], dict[int, str]] = {
    get_owner: UNAUTHORIZED | OVER_LIMIT | UNAVAILABLE,
    get_store: UNAVAILABLE,
    get_models: UNAVAILABLE,
    get_uploads: UNAVAILABLE,
    get_submission: INVALID | OVER_LIMIT | UNAVAILABLE,
}


def operation_id(route: APIRoute) -> str:
    """A route's operation id: its function's name."""
    return route.name


def _dependencies(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _dependencies(dependency)


def _route_problems(dependant: Dependant, operation: dict[str, Any]) -> dict[int, str]:
    """The errors an operation can answer beyond those its route's decorator declares."""
    problems: dict[int, str] = {}
    for call in _dependencies(dependant):
        problems |= DEPENDENCY_PROBLEMS.get(call, {})
    parameters = operation.get("parameters", [])
    if parameters or "requestBody" in operation:
        problems |= INVALID
    if any(parameter["in"] == "path" for parameter in parameters):
        problems[404] = "no such resource for this key"
    if "requestBody" in operation:
        problems[413] = "the body is over the size limit"
    return problems


def _is_fastapi_validation_error(response: dict[str, Any] | None) -> bool:
    schema = (response or {}).get("content", {}).get("application/json", {}).get("schema", {})
    return bool(schema.get("$ref", "").endswith("/HTTPValidationError"))


def _problem_content() -> dict[str, Any]:
    return {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": REF_TEMPLATE.format(model="Problem")}}}


def _operations(app: FastAPI, schema: dict[str, Any]) -> Iterator[tuple[Dependant, dict[str, Any]]]:
    """Each operation of ``schema`` with its route's dependencies (routers' included)."""
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, APIRoute) and route.include_in_schema:
            for method in route.methods or ():
                yield route.dependant, schema["paths"][route.path_format][method.lower()]


def declare_problems(app: FastAPI, schema: dict[str, Any]) -> None:
    """Declare every error response of ``schema`` as a problem, in place."""
    for dependant, operation in _operations(app, schema):
        responses: dict[str, Any] = operation["responses"]
        if _is_fastapi_validation_error(responses.get("422")):
            del responses["422"]
        for status, description in _route_problems(dependant, operation).items():
            responses.setdefault(str(status), {"description": description})
        for code, response in responses.items():
            if int(code) >= 400:
                response["content"] = _problem_content()
        operation["responses"] = dict(sorted(responses.items()))
    components: dict[str, Any] = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in FASTAPI_VALIDATION_SCHEMAS:
        components.pop(name, None)
    problem_schema = Problem.model_json_schema(ref_template=REF_TEMPLATE, mode="serialization")
    for name, definition in problem_schema.pop("$defs", {}).items():
        components.setdefault(name, definition)
    components.setdefault("Problem", problem_schema)


class ClientFriendlyAPI(FastAPI):
    """A FastAPI app whose OpenAPI document generates good clients (see the module's doc)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(generate_unique_id_function=operation_id, **options)

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            schema = super().openapi()
            declare_problems(self, schema)
            self.openapi_schema = schema
        return self.openapi_schema
