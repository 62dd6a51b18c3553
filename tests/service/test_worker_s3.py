"""A job whose files go to S3 (moto's server over HTTP), downloaded through presigned URLs."""

from __future__ import annotations

import io
from urllib.parse import parse_qs, urlparse

import boto3
import httpx
import numpy as np
from PIL import Image

from featviz_engine.images import crop_for
from tests.helpers.service_stack import S3_BUCKET, S3_CREDENTIALS, Stack

SPEC = {
    "model": "resnet50v2",
    "weights": "random",
    "layer": "conv3_block1_out",
    "filter": 7,
    "image_size": 64,
    "iterations": 12,
    "snapshots": [5, 10],
}


def test_job_files_reach_s3_behind_presigned_urls(s3_stack: Stack, s3_endpoint: str) -> None:
    job = s3_stack.wait(s3_stack.submit("/v1/jobs", SPEC)["id"])
    assert job["status"] == "succeeded", job["error"]
    assert job["progress"] == {"iteration": 12, "total": 12}
    assert [s["iteration"] for s in job["snapshots"]] == [5, 10]
    tile = 64 - 2 * crop_for(64)
    for image in job["snapshots"] + job["finals"]:
        assert image["activation"] == image["activation"]  # recorded, and not NaN
        url = urlparse(image["url"])
        assert f"{url.scheme}://{url.netloc}" == s3_endpoint
        query = parse_qs(url.query)
        assert "X-Amz-Signature" in query
        assert query["X-Amz-Expires"] == [str(s3_stack.settings.url_expiry_s)]
        response = httpx.get(image["url"])
        assert response.status_code == 200
        with Image.open(io.BytesIO(response.content)) as picture:
            assert picture.format == "PNG"
            assert np.asarray(picture.convert("RGB")).shape == (tile, tile, 3)
    assert httpx.get(job["files"]["result.json"]).json()["job"] == job["id"]

    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", **S3_CREDENTIALS)
    stored = s3.list_objects_v2(Bucket=S3_BUCKET, Prefix=f"jobs/{job['id']}/")
    keys = sorted(item["Key"].removeprefix(f"jobs/{job['id']}/") for item in stored["Contents"])
    assert keys == [
        "filter_0007/iter_0005.png", "filter_0007/iter_0010.png", "filter_0007/iter_0011.png",
        "filter_0007/progress.gif", "filter_0007/sheet.png", "result.json",
    ]  # fmt: skip
    head = s3.head_object(Bucket=S3_BUCKET, Key=f"jobs/{job['id']}/filter_0007/iter_0005.png")
    assert head["ContentType"] == "image/png"
