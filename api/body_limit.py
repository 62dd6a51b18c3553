"""A limit on request body size, checked before the body is parsed."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import PROBLEM_MEDIA_TYPE
from featviz.problems import problem

TOO_LARGE = 413


class BodySizeLimit:
    """ASGI middleware: a body over ``max_bytes`` is answered with 413.

    A declared ``Content-Length`` is refused here, before reading; a chunked body is counted as
    it arrives and refused through the app's error handlers, which then render the problem.
    Routes that take files have their own, larger limits (``route_limits``, by method and path).
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int, route_limits: dict[tuple[str, str], int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.route_limits = route_limits or {}

    @staticmethod
    def _detail(limit: int) -> str:
        return f"request bodies are limited to {limit} bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.route_limits.get((scope["method"], scope["path"]), self.max_bytes)
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            detail = self._detail(limit)
            details = problem(TOO_LARGE, "payload-too-large", "Payload too large", detail)
            body = details.model_copy(update={"instance": scope["path"]})
            response = JSONResponse(
                body.model_dump(exclude_none=True),
                status_code=TOO_LARGE,
                media_type=PROBLEM_MEDIA_TYPE,
            )
            await response(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(TOO_LARGE, self._detail(limit))
            return message

        await self.app(scope, counting_receive, send)
