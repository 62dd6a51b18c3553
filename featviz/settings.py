"""Service settings, read from ``FEATVIZ_*`` environment variables (or a ``.env`` file).

The API and the worker read the same settings, so one environment configures the whole stack.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import warnings
from functools import lru_cache
from typing import Annotated, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_SECRET = "changethis"
OPERATOR_DATASET_NAME = r"[a-z0-9][a-z0-9-]{0,39}"
"""An operator dataset's name: its id is ``dst_op_`` and the name."""


def hash_api_key(key: str) -> str:
    """The SHA-256 hex digest under which an API key is configured and jobs are owned."""
    return hashlib.sha256(key.encode()).hexdigest()


class Settings(BaseSettings):
    """Everything the API and the worker need to find each other and to enforce limits."""

    model_config = SettingsConfigDict(
        env_prefix="FEATVIZ_", env_file=".env", env_ignore_empty=True, extra="ignore"
    )

    dev_mode: bool = False
    redis_url: str = "redis://127.0.0.1:6379/0"
    queue: str = "featviz"
    storage_url: str = Field(
        default="featviz-data/storage",
        description="s3://bucket/prefix, or a local directory the API serves files from",
    )
    s3_endpoint_url: str | None = Field(
        default=None, description="for S3-compatible stores (MinIO, moto, ...)"
    )
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    url_expiry_s: int = Field(default=3600, ge=1, description="lifetime of download links")
    api_key_hashes: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="comma-separated SHA-256 hex digests of the accepted API keys",
    )
    signing_secret: SecretStr = Field(
        default=SecretStr(DEFAULT_SECRET), description="signs local-storage download links"
    )

    max_iterations: int = Field(default=10_000, ge=1, le=10_000)
    max_snapshots: int = Field(default=50, ge=1, le=50)
    max_layer_filters: int = Field(default=4096, ge=1)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    max_model_upload_bytes: int = Field(
        default=500 * 1024 * 1024, ge=1024, description="largest .keras file POST /v1/models takes"
    )
    max_dataset_upload_bytes: int = Field(
        default=200 * 1024 * 1024,
        ge=1024,
        description="largest .zip of images POST /v1/datasets takes",
    )
    dataset_max_entries: int = Field(
        default=30_000,
        ge=1,
        description="entries a dataset's zip may hold: its images, folders and the files "
        "archivers add (__MACOSX); at least FEATVIZ_DATASET_MAX_IMAGES",
    )
    dataset_max_images: int = Field(default=10_000, ge=1, description="images a dataset may hold")
    dataset_max_image_pixels: int = Field(
        default=4096 * 4096,
        ge=1024,
        # Pillow's own decompression-bomb check starts at 89 million pixels: below it, ours
        # refuses an image first, with its count.
        le=8192 * 8192,
        description="pixels of one dataset image, at most, up to 8192 x 8192 (larger ones are "
        "refused from their header, unread)",
    )
    dataset_max_uncompressed_bytes: int = Field(
        default=2 * 1024**3,
        ge=1024,
        description="the most a dataset zip's entries may uncompress to, together; at least "
        "FEATVIZ_MAX_DATASET_UPLOAD_BYTES",
    )
    operator_datasets: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict,
        description="comma-separated name=URL pairs: datasets every key sees as dst_op_{name} "
        "and none can delete, copied by a worker from s3://bucket/prefix (this storage's "
        "endpoint and credentials) or a local directory, and checked as uploads are",
    )
    exemplar_shard_images: int = Field(
        default=256, ge=1, description="images of an exemplar job that one task runs"
    )
    exemplar_batch_images: int = Field(
        default=32, ge=1, le=1024, description="images through the network at once"
    )
    model_cache_bytes: int = Field(
        default=2 * 1024**3,
        ge=0,
        description="weights of uploaded models a worker keeps loaded; least recently used go",
    )
    model_max_entries: int = Field(
        default=1000, ge=1, description="entries an uploaded .keras archive may hold"
    )
    model_max_uncompressed_bytes: int = Field(
        default=1024**3,
        ge=1024,
        description="the most an uploaded .keras archive's entries may uncompress to, together; "
        "at least FEATVIZ_MAX_MODEL_UPLOAD_BYTES",
    )
    upload_max_compression_ratio: float = Field(
        default=100.0,
        ge=1,
        description="uncompressed over stored size of any entry over 1 MiB of an uploaded "
        "archive, .keras or dataset (Keras stores entries uncompressed, images barely compress; "
        "zip bombs reach 1000)",
    )
    upload_memory_bytes: int = Field(
        default=4 * 1024**3,
        ge=512 * 1024**2,
        description="memory (RLIMIT_DATA) of the child process that checks an upload (a .keras "
        "file or a dataset's zip)",
    )
    upload_cpu_s: int = Field(
        default=120,
        ge=1,
        description="CPU time (RLIMIT_CPU, its threads together) of that child process",
    )
    upload_disk_bytes: int = Field(
        default=2 * 1024**3,
        ge=1024**2,
        description="disk that child process may write: each file (RLIMIT_FSIZE) and all together",
    )
    upload_timeout_s: float = Field(
        default=300.0, gt=0, description="wall-clock time that child process may take"
    )
    pack_size: int = Field(default=16, ge=1, le=64, description="filters optimised together")
    job_time_budget_s: float = Field(default=3600.0, gt=0, description="per task, at most")
    max_attempts: int = Field(default=3, ge=1, description="deliveries before a job fails")
    progress_interval_s: float = Field(default=1.0, ge=0)

    heartbeat_interval_s: float = Field(
        default=10.0,
        gt=0,
        description="how often a running job renews its lease, and a worker its capabilities",
    )
    lease_s: float = Field(
        default=40.0,
        gt=0,
        description="a running job whose lease is this old is re-queued by a worker's reaper; "
        "a worker silent this long no longer counts as live at submit",
    )
    reaper_interval_s: float = Field(default=5.0, gt=0, description="how often workers reap")
    outbox_grace_s: float = Field(
        default=30.0,
        gt=0,
        description="a task recorded this long ago and never sent (its sender died) is sent again",
    )
    drain_grace_s: int = Field(
        default=60,
        ge=0,
        description="on SIGTERM a worker finishes a running job expected to end within this "
        "many seconds and hands any other back to the queue",
    )
    storage_attempts: int = Field(default=6, ge=1, description="tries per upload")
    storage_backoff_s: float = Field(
        default=1.0, ge=0, description="wait after the first failed upload; doubles each try"
    )
    rate_limit_per_s: float = Field(
        default=20.0, gt=0, description="requests per second each API key may sustain"
    )
    rate_limit_burst: int = Field(default=100, ge=1, description="requests a key may burst")
    max_queued_jobs_per_key: int = Field(
        default=100, ge=1, description="queued top-level jobs per key; more are refused (429)"
    )
    events_heartbeat_s: float = Field(
        default=15.0,
        gt=0,
        description="a live event stream sends a comment this often, so that proxies keep it open",
    )
    webhook_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="comma-separated host names webhooks may name (*.example.com: its "
        "subdomains); empty: any",
    )
    webhook_private_networks: Annotated[
        list[ipaddress.IPv4Network | ipaddress.IPv6Network], NoDecode
    ] = Field(
        default_factory=list,
        description="comma-separated networks (CIDR) webhooks may reach although loopback, "
        "private or link-local; empty: public addresses only",
    )
    webhook_timeout_s: float = Field(
        default=10.0, gt=0, description="how long a webhook delivery waits for its answer"
    )
    webhook_attempts: int = Field(
        default=8, ge=1, description="tries per webhook event before it is given up"
    )
    webhook_backoff_s: float = Field(
        default=5.0, ge=0, description="wait after a webhook's first failed try; doubles each try"
    )

    @field_validator("api_key_hashes", mode="before")
    @classmethod
    def _split_hashes(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip().lower() for part in value.split(",") if part.strip()]
        return value

    @field_validator("webhook_hosts", "webhook_private_networks", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("operator_datasets", mode="before")
    @classmethod
    def _split_pairs(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        pairs: dict[str, str] = {}
        for part in filter(None, (part.strip() for part in value.split(","))):
            name, equals, url = part.partition("=")
            if not equals:
                raise ValueError(f"{part!r} is not name=URL")
            if name.strip() in pairs:
                raise ValueError(f"operator dataset {name.strip()!r} is named twice")
            pairs[name.strip()] = url.strip()
        return pairs

    @field_validator("operator_datasets")
    @classmethod
    def _check_operator_datasets(cls, datasets: dict[str, str]) -> dict[str, str]:
        for name, url in datasets.items():
            if re.fullmatch(OPERATOR_DATASET_NAME, name) is None:
                raise ValueError(
                    f"operator dataset name {name!r}: 1 to 40 lowercase letters, digits and "
                    "hyphens, starting with a letter or digit"
                )
            bucket = url.removeprefix("s3://").partition("/")[0]
            if not url or (url.startswith("s3://") and not bucket):
                raise ValueError(f"operator dataset {name!r}: s3://bucket/prefix or a directory")
        return datasets

    @field_validator("api_key_hashes")
    @classmethod
    def _check_hashes(cls, hashes: list[str]) -> list[str]:
        for digest in hashes:
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise ValueError("API keys are configured as SHA-256 hex digests (64 hex digits)")
        return hashes

    @model_validator(mode="after")
    def _lease_outlives_heartbeats(self) -> Self:
        # A lease must survive a late heartbeat or two, or a slow but healthy job gets re-queued.
        if self.lease_s < 2 * self.heartbeat_interval_s:
            raise ValueError("lease_s must be at least twice heartbeat_interval_s")
        return self

    @model_validator(mode="after")
    def _uploads_fit_their_limits(self) -> Self:
        # Keras stores a .keras file's entries uncompressed and images barely compress: a file
        # the API takes at its size cap must not then be refused for its uncompressed size.
        if self.model_max_uncompressed_bytes < self.max_model_upload_bytes:
            raise ValueError("model_max_uncompressed_bytes must be at least max_model_upload_bytes")
        if self.dataset_max_uncompressed_bytes < self.max_dataset_upload_bytes:
            raise ValueError(
                "dataset_max_uncompressed_bytes must be at least max_dataset_upload_bytes"
            )
        # Else a dataset's image cap could never be reached: its entries would be refused first.
        if self.dataset_max_entries < self.dataset_max_images:
            raise ValueError("dataset_max_entries must be at least dataset_max_images")
        return self

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Self:
        # As full-stack-fastapi-template's config: a default secret is a warning while developing
        # and a refusal to start anywhere else.
        if self.signing_secret.get_secret_value() == DEFAULT_SECRET:
            message = (
                f"FEATVIZ_SIGNING_SECRET is {DEFAULT_SECRET!r}; set it to a random string "
                "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
            )
            if not self.dev_mode:
                raise ValueError(message)
            warnings.warn(message, stacklevel=1)
        return self

    @property
    def visibility_timeout_s(self) -> int:
        """How long the broker waits for an unacknowledged task: well past any time budget."""
        return int(self.job_time_budget_s * 2 + 600)

    @property
    def is_s3(self) -> bool:
        return self.storage_url.startswith("s3://")


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once from the environment."""
    return Settings()
