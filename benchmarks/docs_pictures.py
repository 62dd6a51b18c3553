"""The docs' pictures, made by the service on the trained VGG16 (weights ``hed-bsds500``).

    .venv/bin/python benchmarks/docs_pictures.py [--only web-job,web-comparison,...]

Starts the service as ``benchmarks/local_service.py`` does (one worker), submits every job through
the Python SDK at once, and once they have finished writes into docs/images/:

- the README's screenshots of the web page, in Debian's headless Chromium (Playwright):
  ``web-job.png`` (one filter, preset recommended), ``web-layer-browser.png`` (a layer job with
  one filter's detail open) and ``web-comparison.png`` (TV weights side by side);
- docs/engine.md's ``start-image-example.png``: filters started from a photo (scikit-image's
  ``chelsea``, uploaded as a dataset) under several ``start_image_weight`` values, beside the
  same filters from noise.

Took 12 minutes on 2 CPU cores shared with other work (load about 13), nearly all of it the
jobs; ``--only`` makes fewer.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from browser import signed_in_browser
from local_service import API_KEYS, local_service
from PIL import Image
from playwright.sync_api import BrowserContext

ROOT = Path(__file__).resolve().parents[1]
# The photos and zips the tests upload (scikit-image's photographs).
sys.path.insert(0, str(ROOT))

from featviz.outputs import START_FILE  # noqa: E402
from featviz_client import Client, Job  # noqa: E402
from featviz_engine.images import contact_sheet, crop_for  # noqa: E402
from tests.helpers.dataset_files import image_zip, photos  # noqa: E402

IMAGES = ROOT / "docs" / "images"
SCREENSHOT_COLOURS = 256
TRAINED = {"model": "vgg16", "weights": "hed-bsds500"}
JOB = TRAINED | {
    "layer": "block4_conv3",
    # Of filters 1-8 at 100 iterations, the clearest picture (filter 0 is the README's first).
    "filter": 8,
    "preset": "recommended",
    "image_size": 128,
    "iterations": 150,
    "snapshots": [10, 50, 100],
}
# The seed's method: TV denoises pixel images only.
COMPARISON = TRAINED | {
    "layer": "block5_conv3",
    "filter": 4,
    "image_size": 128,
    "iterations": 150,
    "snapshots": [75],
    "tv_start": 50,
}
TV_WEIGHTS = [0.0, 0.001, 0.01]
# The seed's method on an early layer, where many filters are dead at the start image: the
# browser marks those that came alive later and those that never did.
LAYER = TRAINED | {
    "layer": "block2_conv2",
    "filters": range(42),
    "image_size": 64,
    "iterations": 40,
    "snapshots": [5, 15, 30],
}
LAYER_DETAIL = 3
# The layer's three filters most active on the photo (docs/engine.md), the seed's method.
START = TRAINED | {
    "layer": "block4_conv3",
    "filters": [53, 316, 154],
    "image_size": 128,
    "iterations": 100,
    "snapshots": [],
}
START_WEIGHTS = (0.0, 1000.0, 10000.0)
PHOTO = "photos/chelsea.jpg"
PHOTO_SIZE = 256


@dataclass(frozen=True)
class Screenshot:
    fragment: str
    """The page's address after ``#``."""
    ready: Sequence[str]
    """Selectors that are there once the page shows everything."""
    full_page: bool = True


def submit_layer(client: Client, spec: dict[str, Any]) -> Job:
    spec = dict(spec)
    return client.layer(spec.pop("model"), spec.pop("layer"), spec.pop("filters"), **spec)


def take(context: BrowserContext, screenshot: Screenshot, path: Path) -> None:
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"/#{screenshot.fragment}")
    for selector in screenshot.ready:
        page.wait_for_selector(selector)
    page.wait_for_load_state("networkidle")
    missing = page.evaluate("[...document.images].filter(i => !i.naturalWidth).length")
    if missing:
        print(f"{path.name}: {missing} images had not loaded", file=sys.stderr)
    save_small(Image.open(io.BytesIO(page.screenshot(full_page=screenshot.full_page))), path)
    page.close()


def save_small(screenshot: Image.Image, path: Path) -> None:
    """A screenshot in a 256-colour palette: under half its full-colour size, looking the same."""
    screenshot.convert("RGB").quantize(SCREENSHOT_COLOURS).save(path, optimize=True)


def web_job(job: Job) -> Screenshot:
    return Screenshot(f"/jobs/{job.id}", ["[data-status=succeeded]", "img[alt='contact sheet']"])


def web_comparison(job: Job) -> Screenshot:
    return Screenshot(f"/jobs/{job.id}", ["[data-status=succeeded]", "img[alt='comparison grid']"])


def web_layer_browser(job: Job) -> Screenshot:
    detail = "#filter-detail"
    return Screenshot(
        f"/layer-jobs/{job.id}/filters/{LAYER_DETAIL}",
        [f"{detail} h2:has-text('Filter {LAYER_DETAIL}')", f"{detail} img[alt^='progression']"],
        full_page=False,
    )


SCREENSHOTS: dict[str, Callable[[Job], Screenshot]] = {
    "web-job": web_job,
    "web-comparison": web_comparison,
    "web-layer-browser": web_layer_browser,
}
PICTURES = (*SCREENSHOTS, "start-image-example")


def submit_start_jobs(client: Client, folder: Path) -> list[Job]:
    """One layer job per start-image weight from the photo, and one from noise, last."""
    archive = image_zip(folder / "photo.zip", {PHOTO: photos(PHOTO_SIZE)[PHOTO]})
    dataset = client.upload_dataset(archive, "chelsea").wait(timeout=300)
    if dataset.status != "ready":
        raise SystemExit(f"the photo's dataset is {dataset.status}: {dataset.reason}")
    photo = {"start_image": f"{dataset.id}/{PHOTO}"}
    jobs = [submit_layer(client, START | photo | {"start_image_weight": w}) for w in START_WEIGHTS]
    return [*jobs, submit_layer(client, START)]


def start_image_example(jobs: Sequence[Job], folder: Path) -> np.ndarray:
    """Rows: filters; columns: the photo, each weight's final image, the final image from noise."""
    finals: list[dict[int, np.ndarray]] = []
    for number, job in enumerate(jobs):
        job.download(folder / str(number))
        finals.append({f.filter: read_png(folder / str(number) / f.path) for f in job.finals})
    size = START["image_size"]
    crop = crop_for(size)  # the display's crop, so that the photo lines up with the pictures
    photo = read_png(folder / "0" / START_FILE)[crop : size - crop, crop : size - crop]
    heads = ["photo", *(f"weight {w:g}" for w in START_WEIGHTS), "from noise"]
    tiles = [
        tile for channel in START["filters"] for tile in (photo, *(f[channel] for f in finals))
    ]
    rows = [f"filter {channel}" for channel in START["filters"]]
    return contact_sheet(tiles, heads * len(rows), columns=len(heads), row_labels=rows)


def read_png(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def finished(job: Job, started: float) -> Job:
    job.wait(timeout=3600)
    if job.status != "succeeded":
        raise SystemExit(f"job {job.id} {job.status}: {job.error}")
    print(f"{job.id} {job.record.kind}: done at {time.monotonic() - started:.0f} s", flush=True)
    return job


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(PICTURES), help="comma-separated pictures")
    args = parser.parse_args()
    wanted = args.only.split(",")
    unknown = set(wanted) - set(PICTURES)
    if unknown:
        parser.error(f"unknown pictures {sorted(unknown)}; choose from {', '.join(PICTURES)}")
    with (
        local_service(workers=1) as service,
        tempfile.TemporaryDirectory(prefix="featviz-pictures-") as scratch,
    ):
        assert service.api_url is not None
        client = Client(service.api_url, api_key=API_KEYS[0])
        started = time.monotonic()
        # First: the one worker checks the photo's dataset in turn with the jobs.
        start_jobs = []
        if "start-image-example" in wanted:
            start_jobs = submit_start_jobs(client, Path(scratch))
        submitted: dict[str, Job] = {}
        if "web-job" in wanted:
            submitted["web-job"] = client.submit(**JOB)
        if "web-layer-browser" in wanted:
            submitted["web-layer-browser"] = submit_layer(client, LAYER)
        if "web-comparison" in wanted:
            submitted["web-comparison"] = client.compare(TV_WEIGHTS, **COMPARISON)
        for job in [*start_jobs, *submitted.values()]:
            finished(job, started)
        if submitted:
            with signed_in_browser(service.api_url) as context:
                for name, job in submitted.items():
                    take(context, SCREENSHOTS[name](job), IMAGES / f"{name}.png")
                    print(f"wrote docs/images/{name}.png")
        if start_jobs:
            sheet = start_image_example(start_jobs, Path(scratch))
            Image.fromarray(sheet).save(IMAGES / "start-image-example.png", optimize=True)
            print("wrote docs/images/start-image-example.png")
        client.close()


if __name__ == "__main__":
    main()
