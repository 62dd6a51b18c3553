"""Where job files go: an S3 bucket (any S3-compatible store) or a local directory.

Both backends store a file under a key such as ``{job}/filter_0003/iter_0005.png`` (the layout
featviz.outputs defines) and hand out expiring download links: presigned GET URLs for S3, and
for a local directory links to the API's ``/v1/files/{key}`` route signed with an HMAC of the key
and the expiry time.
"""

from __future__ import annotations

import mimetypes
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Protocol
from urllib.parse import urlencode

import boto3
from botocore.config import Config

from featviz.settings import Settings
from featviz.signing import LinkSigner

mimetypes.add_type("image/png", ".png")
mimetypes.add_type("image/gif", ".gif")
mimetypes.add_type("application/json", ".json")

LOCAL_FILES_ROUTE = "/v1/files"


def content_type(key: str) -> str:
    return mimetypes.guess_type(key)[0] or "application/octet-stream"


@dataclass(frozen=True)
class StoredObject:
    """A key under the storage's root, and the bytes stored there."""

    key: str
    size: int


class Storage(Protocol):
    """What the worker writes through and the API links to."""

    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key``, replacing what was there."""

    def get(self, key: str) -> bytes:
        """The bytes stored under ``key``."""

    def put_file(self, key: str, source: BinaryIO) -> None:
        """Store a file's contents under ``key``, streamed: large files never sit in memory."""

    def download(self, key: str, target: Path) -> None:
        """Write what is stored under ``key`` to the file ``target``, streamed."""

    def delete(self, key: str) -> None:
        """Remove what is stored under ``key``; nothing there is not an error."""

    def url(self, key: str, expires_in_s: int) -> str:
        """A download link valid for ``expires_in_s`` seconds (a path for local storage)."""

    def listing(self) -> list[StoredObject]:
        """Every key stored, sorted (what an operator dataset's URL holds)."""

    def ping(self) -> None:
        """Raise when the storage cannot be reached."""


class S3Storage:
    """A private bucket reached through boto3, with presigned download URLs.

    Parameters
    ----------
    bucket, prefix
        From ``s3://bucket/prefix``; keys are stored under ``prefix/``.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str,
        endpoint_url: str | None,
        region: str,
        access_key_id: str | None,
        secret_access_key: str | None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=Config(
                signature_version="s3v4",
                # One try per call: the worker retries with the backoff its settings give
                # (worker/retrying_storage.py), and the API's readiness check should answer fast.
                retries={"mode": "standard", "total_max_attempts": 1},
                connect_timeout=5,
                read_timeout=30,
            ),
        )

    def _object_key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(
            Bucket=self.bucket,
            Key=self._object_key(key),
            Body=data,
            ContentType=content_type(key),
        )

    def get(self, key: str) -> bytes:
        response = self.client.get_object(Bucket=self.bucket, Key=self._object_key(key))
        data: bytes = response["Body"].read()
        return data

    def put_file(self, key: str, source: BinaryIO) -> None:
        # boto3's managed transfer sends large files as a multipart upload, chunk by chunk.
        self.client.upload_fileobj(
            source,
            self.bucket,
            self._object_key(key),
            ExtraArgs={"ContentType": content_type(key)},
        )

    def download(self, key: str, target: Path) -> None:
        self.client.download_file(self.bucket, self._object_key(key), str(target))

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._object_key(key))

    def url(self, key: str, expires_in_s: int) -> str:
        link: str = self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": self._object_key(key)},
            ExpiresIn=expires_in_s,
        )
        return link

    def listing(self) -> list[StoredObject]:
        root = f"{self.prefix}/" if self.prefix else ""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=root
        )
        found = [
            StoredObject(item["Key"].removeprefix(root), item["Size"])
            for page in pages
            for item in page.get("Contents", [])
        ]
        return sorted(found, key=lambda stored: stored.key)

    def ping(self) -> None:
        self.client.head_bucket(Bucket=self.bucket)


class InvalidKeyError(ValueError):
    """A key that would leave the storage directory."""


class LocalStorage:
    """Files in a directory, linked through the API with signed, expiring URLs."""

    def __init__(self, root: Path, secret: bytes) -> None:
        self.root = root
        self.links = LinkSigner(secret)

    def path(self, key: str) -> Path:
        """The file of a key; keys are relative POSIX paths without ``..``."""
        parts = PurePosixPath(key).parts
        if not parts or key.startswith("/") or any(p in ("..", ".") for p in parts):
            raise InvalidKeyError(key)
        return self.root.joinpath(*parts)

    def put(self, key: str, data: bytes) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Written beside the target and renamed, so a reader never sees half a file.
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as partial:
            partial.write(data)
        os.replace(partial.name, target)

    def get(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def put_file(self, key: str, source: BinaryIO) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as partial:
            shutil.copyfileobj(source, partial)
        os.replace(partial.name, target)

    def download(self, key: str, target: Path) -> None:
        shutil.copyfile(self.path(key), target)

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def url(self, key: str, expires_in_s: int) -> str:
        return f"{LOCAL_FILES_ROUTE}/{key}?{urlencode(self.links.query(key, expires_in_s))}"

    def listing(self) -> list[StoredObject]:
        found = (path for path in self.root.rglob("*") if path.is_file())
        listed = [
            StoredObject(path.relative_to(self.root).as_posix(), path.stat().st_size)
            for path in found
        ]
        return sorted(listed, key=lambda stored: stored.key)

    def verify(self, key: str, expires: int, signature: str) -> bool:
        """Whether a link is genuine and not yet expired."""
        return self.links.verify(key, expires, signature)

    def ping(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if not os.access(self.root, os.W_OK):
            raise PermissionError(f"{self.root} is not writable")


def open_storage(settings: Settings, url: str | None = None) -> Storage:
    """The backend ``url`` names (default: ``settings.storage_url``): an S3 one through the
    settings' endpoint and credentials."""
    url = url or settings.storage_url
    if url.startswith("s3://"):
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        secret = settings.s3_secret_access_key
        return S3Storage(
            bucket,
            prefix,
            settings.s3_endpoint_url,
            settings.s3_region,
            settings.s3_access_key_id,
            secret.get_secret_value() if secret else None,
        )
    return LocalStorage(Path(url), settings.signing_secret.get_secret_value().encode())
