"""``featviz datasets`` and ``featviz exemplars`` in a subprocess (and the SDK beside them),
against the real stack over HTTP: a folder of images zipped on the way, ranked per filter,
downloaded as the job's folder."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from featviz_client import Client
from tests.client.test_client_cli import as_json, featviz
from tests.helpers.dataset_files import encoded, gratings
from tests.helpers.service_stack import API_KEY


def test_upload_a_folder_rank_it_and_download(api_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "pictures"
    for name, pixels in gratings(per_angle=2, size=32).items():
        target = folder / "gratings" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(encoded(pixels))
    (folder / "notes.txt").write_text("not an image: left out of the zip")

    uploaded = as_json(featviz(api_url, "datasets", "upload", str(folder), "--wait", "--json"))
    assert uploaded["status"] == "ready", uploaded
    assert uploaded["image_count"] == 8
    assert uploaded["name"] == "pictures"
    with Client(api_url, API_KEY) as client:  # the SDK in this process
        assert uploaded["id"] in [dataset.id for dataset in client.datasets()]
        assert client.dataset(uploaded["id"]).image_count == 8

    job = featviz(
        api_url,
        "exemplars",
        *("--model", "vgg16", "--weights", "random", "--layer", "block1_conv2"),
        *("--filters", "0-2", "--dataset", uploaded["id"], "--k", "3", "--image-size", "32"),
        "--wait",
    )
    assert "exemplar_job  succeeded" in job.stdout, job.stdout
    assert "images: 8 succeeded, 0 failed, 0 canceled of 8" in job.stdout
    job_id = job.stdout.split()[0]

    featviz(api_url, "download", job_id, "--out", str(tmp_path / "out"))
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert result["receptive_field"]["size"] == 5  # two 3x3 convolutions
    assert [entry["filter"] for entry in result["filters"]] == [0, 1, 2]
    for entry in result["filters"]:
        assert len(entry["exemplars"]) == 3
        assert all(e["image"].startswith("gratings/grating_") for e in entry["exemplars"])
        with Image.open(tmp_path / "out" / entry["crops"]) as strip:
            assert strip.width >= 3 * 96

    refused = featviz(api_url, "exemplars", "--layer", "block1_conv2", check=False)
    assert refused.returncode == 2
    assert "dataset" in refused.stderr
