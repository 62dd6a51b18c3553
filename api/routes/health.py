"""Liveness, readiness and metrics."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from api.deps import OwnerDep, ServicesDep
from api.errors import ProblemError
from featviz.capabilities import Capabilities, live_workers
from featviz.problems import problem

router = APIRouter(tags=["health"])


class Readiness(BaseModel):
    """The API can serve: its backends answer. Live workers are reported, not required: with
    none, jobs are accepted and wait for one."""

    status: Literal["ready"] = "ready"
    redis: Literal["ok"] = "ok"
    storage: Literal["ok"] = "ok"
    live_workers: int = Field(description="workers of this queue whose heartbeat is live")
    workers: list[Capabilities] = Field(description="what each live worker can serve")


@router.get("/healthz")
def get_health() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Redis or storage is unreachable"}})
def get_readiness(services: ServicesDep) -> Readiness:
    """Redis and storage are reachable (503 says which is not), and the live workers."""
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
    workers = live_workers(services.store.redis, services.settings.queue)
    return Readiness(live_workers=len(workers), workers=workers)


@router.get("/metrics", response_class=Response)
def get_metrics(request: Request, owner: OwnerDep) -> Response:
    """Prometheus text format."""
    registry = request.app.state.metrics_registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
