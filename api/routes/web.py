"""The web page at ``/``: a static single-page app over the same v1 API as every client."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

WEB_ROOT = Path(__file__).resolve().parent.parent / "web"

router = APIRouter(include_in_schema=False)


@router.get("/")
def index() -> FileResponse:
    return FileResponse(WEB_ROOT / "index.html", headers={"Cache-Control": "no-cache"})


def install(app: FastAPI) -> None:
    """Serve the page and its assets (no build step: plain HTML, CSS and JavaScript)."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=WEB_ROOT), name="static")
