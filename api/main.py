"""The FastAPI application: ``uvicorn --factory api.main:create_app`` or ``featviz api``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from api.body_limit import BodySizeLimit
from api.errors import install_error_handlers
from api.metrics import ServiceCollector
from api.openapi import ClientFriendlyAPI
from api.routes import (
    comparisons,
    datasets,
    events,
    exemplar_jobs,
    files,
    health,
    jobs,
    layer_jobs,
    models,
    web,
    webhooks,
)
from api.routes.datasets import DATASET_UPLOAD_PATH
from api.routes.models import MODEL_UPLOAD_PATH
from api.services import Services
from featviz import __version__
from featviz.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API for ``settings`` (default: from the environment)."""
    services = Services.open(settings or get_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await services.close()

    app = ClientFriendlyAPI(
        title="featviz",
        version=__version__,
        description="Feature visualisation as a service: what does a filter respond to?",
        lifespan=lifespan,
    )
    app.state.services = services
    registry = CollectorRegistry()
    registry.register(ServiceCollector(services))
    app.state.metrics_registry = registry
    install_error_handlers(app)
    app.add_middleware(
        BodySizeLimit,
        max_bytes=services.settings.max_body_bytes,
        route_limits={
            ("POST", MODEL_UPLOAD_PATH): services.settings.max_model_upload_bytes,
            ("POST", DATASET_UPLOAD_PATH): services.settings.max_dataset_upload_bytes,
        },
    )
    for module in (
        *(health, jobs, events, layer_jobs, comparisons, exemplar_jobs),
        *(models, datasets, files, webhooks),
    ):
        app.include_router(module.router)
    web.install(app)
    return app
