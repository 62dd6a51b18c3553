"""The API's presigned download links stop working once they expire, against s3rver, an S3
server that checks expiry (moto does not). The bucket's privacy is tested against moto, which
enforces it (``test_security_keys.py``); s3rver does not."""

from __future__ import annotations

import time
from collections.abc import Iterator

import boto3
import httpx
import pytest

from tests.helpers.api_only import api_only, auth
from tests.helpers.reliability_stack import SHORT_JOB
from tests.helpers.s3rver import CREDENTIALS, s3rver

BUCKET = "featviz-expiry"
EXPIRY_S = 2
# SigV4 stamps the signing time to the second, so a link may die up to a second early and the
# server's check may fall a second late.
CLOCK_SLACK_S = 1.5


@pytest.fixture(scope="module")
def s3rver_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with s3rver(tmp_path_factory.mktemp("s3rver")) as endpoint:
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **CREDENTIALS)
        client.create_bucket(Bucket=BUCKET)
        yield endpoint


def test_a_download_link_expires(clean_redis: str, s3rver_endpoint: str) -> None:
    settings = {
        "FEATVIZ_STORAGE_URL": f"s3://{BUCKET}/jobs",
        "FEATVIZ_S3_ENDPOINT_URL": s3rver_endpoint,
        "FEATVIZ_S3_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
        "FEATVIZ_S3_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"],
        "FEATVIZ_URL_EXPIRY_S": str(EXPIRY_S),
    }
    with api_only(clean_redis, **settings) as client:
        job_id = client.post("/v1/jobs", json=SHORT_JOB, headers=auth()).json()["id"]
        # No worker runs: the test stores a file for the job the way a worker does.
        services = client.app.state.services  # type: ignore[attr-defined]
        services.storage.put(f"{job_id}/sheet.png", b"not really a png")
        services.store.set_file(job_id, "sheet.png", f"{job_id}/sheet.png")
        link = client.get(f"/v1/jobs/{job_id}", headers=auth()).json()["files"]["sheet.png"]
    handed_out = time.monotonic()

    fresh = httpx.get(link)
    assert fresh.status_code == 200, fresh.text
    assert fresh.content == b"not really a png"

    time.sleep(max(0.0, handed_out + EXPIRY_S + CLOCK_SLACK_S - time.monotonic()))
    expired = httpx.get(link)
    assert expired.status_code == 403, expired.text
    assert "<Code>AccessDenied</Code>" in expired.text
    assert "Request has expired" in expired.text
