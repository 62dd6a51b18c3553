"""Liveness, readiness and metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import OwnerDep, ServicesDep
from api.errors import ProblemError
from featviz.problems import problem

router = APIRouter(tags=["health"])


@router.get("/healthz")
def get_health() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Redis or storage is unreachable"}})
def get_readiness(services: ServicesDep) -> dict[str, str]:
    """Redis and storage are reachable; 503 says which is not."""
    failures = []
    try:
        services.store.ping()
    except Exception as error:
        failures.append(f"redis: {type(error).__name__}: {error}")
    try:
        services.storage.ping()
    except Exception as error:
        failures.append(f"storage: {type(error).__name__}: {error}")
    if failures:
        raise ProblemError(problem(503, "not-ready", "Not ready", "; ".join(failures)))
    return {"status": "ready", "redis": "ok", "storage": "ok"}


@router.get("/metrics", response_class=Response)
def get_metrics(request: Request, owner: OwnerDep) -> Response:
    """Prometheus text format."""
    registry = request.app.state.metrics_registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
