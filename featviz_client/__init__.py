"""The featviz Python SDK: submit jobs, wait for them, download their pictures.

>>> from featviz_client import Client
>>> client = Client("http://127.0.0.1:8000", api_key="...")
>>> job = client.run(layer="conv3_block1_out", filter=7, weights="random", image_size=64,
...                  iterations=60, snapshots=[5, 10, 50], progress=True)
>>> job.download("out/")

Depends on httpx, httpx-sse, pydantic, standardwebhooks and tqdm only: no TensorFlow, no server
packages.
"""

from featviz_client.client import AsyncClient, AsyncJobs, Client, Jobs
from featviz_client.errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    ConflictError,
    FeatvizError,
    JobFailedError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    ValidationError,
    WaitTimeoutError,
)
from featviz_client.jobs import (
    AsyncComparison,
    AsyncExemplarJob,
    AsyncJob,
    AsyncLayerJob,
    Comparison,
    ExemplarJob,
    Job,
    LayerJob,
)
from featviz_client.models import (
    Counts,
    Dataset,
    FieldProblem,
    Image,
    JobRecord,
    Layer,
    Metrics,
    Model,
    ModelSummary,
    Problem,
    Progress,
    Status,
    UploadedModel,
)
from featviz_client.retry import NO_RETRIES, RetryPolicy
from featviz_client.uploads import (
    AsyncDatasetUpload,
    AsyncModelUpload,
    DatasetUpload,
    ModelUpload,
)
from featviz_client.webhooks import WebhookEvent, WebhookSignatureError, verify_webhook

__all__ = [
    "NO_RETRIES",
    "APIConnectionError",
    "APIError",
    "AsyncClient",
    "AsyncComparison",
    "AsyncDatasetUpload",
    "AsyncExemplarJob",
    "AsyncJob",
    "AsyncJobs",
    "AsyncLayerJob",
    "AsyncModelUpload",
    "AuthenticationError",
    "Client",
    "Comparison",
    "ConflictError",
    "Counts",
    "Dataset",
    "DatasetUpload",
    "ExemplarJob",
    "FeatvizError",
    "FieldProblem",
    "Image",
    "Job",
    "JobFailedError",
    "JobRecord",
    "Jobs",
    "Layer",
    "LayerJob",
    "Metrics",
    "Model",
    "ModelSummary",
    "ModelUpload",
    "NotFoundError",
    "Problem",
    "Progress",
    "RateLimitedError",
    "RetryPolicy",
    "ServerError",
    "Status",
    "UploadedModel",
    "ValidationError",
    "WaitTimeoutError",
    "WebhookEvent",
    "WebhookSignatureError",
    "verify_webhook",
]
