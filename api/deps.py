"""Typed dependencies of the routes: ``def route(store: StoreDep, owner: OwnerDep)``."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.errors import ProblemError
from api.services import Services
from api.submit import Submission
from api.uploads import Uploads
from api.views import Linker
from featviz.datasets import DatasetStore
from featviz.problems import problem
from featviz.settings import hash_api_key
from featviz.storage import Storage
from featviz.store import JobStore
from featviz.user_models import ModelStore

bearer = HTTPBearer(auto_error=False, description="an API key: Authorization: Bearer KEY")


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_store(services: ServicesDep) -> JobStore:
    return services.store


def get_storage(services: ServicesDep) -> Storage:
    return services.storage


def get_models(services: ServicesDep) -> ModelStore:
    return services.models


def get_datasets(services: ServicesDep) -> DatasetStore:
    return services.datasets


DatasetStoreDep = Annotated[DatasetStore, Depends(get_datasets)]
ModelStoreDep = Annotated[ModelStore, Depends(get_models)]
StoreDep = Annotated[JobStore, Depends(get_store)]
StorageDep = Annotated[Storage, Depends(get_storage)]


def get_owner(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    """The caller's identity: the SHA-256 digest of a configured API key, within its rate limit.

    Raises
    ------
    ProblemError
        401 when the key is missing or unknown, 429 when it is over its rate limit.
    """
    settings = services.settings
    if credentials is None:
        raise ProblemError(
            problem(401, "unauthorized", "Unauthorized", "send Authorization: Bearer API_KEY"),
            headers={"WWW-Authenticate": "Bearer"},
        )
    digest = hash_api_key(credentials.credentials)
    # Compared against every configured key, in constant time, so timing reveals nothing.
    known = [hmac.compare_digest(digest, accepted) for accepted in settings.api_key_hashes]
    if not any(known):
        raise ProblemError(
            problem(401, "unauthorized", "Unauthorized", "unknown API key"),
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    retry_after_s = services.rate_limiter.retry_after_s(digest)
    if retry_after_s is not None:
        raise ProblemError(
            problem(
                429,
                "rate-limited",
                "Too many requests",
                f"this key may send {settings.rate_limit_per_s:g} requests a second "
                f"(bursts of {settings.rate_limit_burst})",
            ),
            headers={"Retry-After": str(retry_after_s)},
        )
    return digest


OwnerDep = Annotated[str, Depends(get_owner)]


def get_linker(request: Request, services: ServicesDep) -> Linker:
    return Linker(
        services.storage,
        services.settings.url_expiry_s,
        str(request.base_url),
        services.event_links,
    )


LinkerDep = Annotated[Linker, Depends(get_linker)]


def get_submission(services: ServicesDep, linker: LinkerDep) -> Submission:
    return Submission(
        services.store,
        services.queue,
        services.settings,
        linker,
        services.models,
        services.datasets,
        services.storage,
    )


SubmissionDep = Annotated[Submission, Depends(get_submission)]


def get_uploads(services: ServicesDep) -> Uploads:
    return Uploads(services.models, services.datasets, services.storage, services.queue)


UploadsDep = Annotated[Uploads, Depends(get_uploads)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="a replay with the same key and body returns the first job",
    ),
]
