"""Small real HTTP servers for the SDK's tests: answers the real API does not give on demand
(429, 5xx), and a proxy that loses the API's first answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response

PROBLEM_MEDIA_TYPE = "application/problem+json"


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


def problem_answer(status: int, title: str, **headers: str) -> Answer:
    body = {"type": "urn:featviz:problem:test", "title": title, "status": status, "detail": title}
    return Answer(status, body, headers)


def problem_response(answer: Answer) -> Response:
    return Response(
        httpx.Response(200, json=answer.body).content,
        status_code=answer.status,
        media_type=PROBLEM_MEDIA_TYPE,
    )


@dataclass
class ScriptedServer:
    """Answers every request with the next of ``answers`` (the last one repeats), recording
    what it was asked."""

    answers: list[Answer]
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.api_route("/{path:path}", methods=["GET", "POST"])
        async def answer(path: str, request: Request) -> Response:
            self.requests.append((request.method, f"/{path}", dict(request.headers)))
            scripted = self.answers[min(len(self.requests), len(self.answers)) - 1]
            media_type = PROBLEM_MEDIA_TYPE if scripted.status >= 400 else "application/json"
            return Response(
                httpx.Response(200, json=scripted.body).content,
                status_code=scripted.status,
                headers=scripted.headers,
                media_type=media_type,
            )

        return app


@dataclass
class LossyProxy:
    """Forwards everything to ``upstream``, but the first ``losses`` POSTs get a 503 instead of
    the upstream's answer, as when a gateway drops the answer after the API acted on the request;
    and paths ending in ``refused_suffix`` get a 404, as from a service without that route.
    """

    upstream: str
    losses: int
    refused_suffix: str | None = None
    posts: int = 0
    paths: list[tuple[str, str]] = field(default_factory=list)

    def app(self) -> FastAPI:
        @asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            async with httpx.AsyncClient(base_url=self.upstream) as client:
                app.state.client = client
                yield

        app = FastAPI(lifespan=lifespan)

        @app.api_route("/{path:path}", methods=["GET", "POST"])
        async def forward(path: str, request: Request) -> Response:
            client: httpx.AsyncClient = request.app.state.client
            self.paths.append((request.method, f"/{path}"))
            if self.refused_suffix is not None and path.endswith(self.refused_suffix):
                return problem_response(problem_answer(404, "No such route"))
            headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
            answer = await client.request(
                request.method,
                f"/{path}",
                params=request.query_params,
                content=await request.body(),
                headers=headers,
            )
            if request.method == "POST":
                self.posts += 1
                if self.posts <= self.losses:
                    return problem_response(problem_answer(503, "Upstream answer lost"))
            passed = {
                k: v
                for k, v in answer.headers.items()
                if k.lower() not in ("content-length", "content-encoding", "transfer-encoding")
            }
            return Response(answer.content, status_code=answer.status_code, headers=passed)

        return app
