"""``/v1/files/{key}``: job files in local storage, behind signed, expiring links.

The link's signature is the credential (as with an S3 presigned URL), so no API key is needed.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse

from api.deps import StorageDep
from api.errors import ProblemError
from featviz.problems import problem
from featviz.storage import LOCAL_FILES_ROUTE, InvalidKeyError, LocalStorage, content_type

router = APIRouter(prefix=LOCAL_FILES_ROUTE, tags=["files"])


@router.get(
    "/{key:path}",
    response_class=FileResponse,
    responses={403: {"description": "an invalid or expired link"}},
)
def download_file(
    key: str,
    storage: StorageDep,
    expires: Annotated[int, Query()],
    signature: Annotated[str, Query(max_length=128)],
) -> FileResponse:
    missing = ProblemError(problem(404, "not-found", "Not found", "no such file"))
    if not isinstance(storage, LocalStorage):
        raise missing
    if not storage.verify(key, expires, signature):
        raise ProblemError(problem(403, "forbidden", "Forbidden", "invalid or expired link"))
    try:
        path = storage.path(key)
    except InvalidKeyError:
        raise missing from None
    if not path.is_file():
        raise missing
    return FileResponse(path, media_type=content_type(key))
