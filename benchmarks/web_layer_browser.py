"""The web page's layer browser with a whole layer of 512 filters, in Debian's headless Chromium.

    .venv/bin/python benchmarks/web_layer_browser.py [--filters 512] [--runs 5]

Runs a real layer job (ResNet50V2 ``conv3_block1_out``, random weights, 48 px, one iteration: the
pictures do not matter here, their number does) on the service as ``benchmarks/local_service.py``
starts it, then opens its page several times and prints, as medians: the job's JSON size, the
time from navigation to every card in the page and from the job's response to that (building the
grid), how many images the page loads before any scrolling (lazy ones load as they come near the
viewport), the nodes per card, a bare relayout of the grid for scale, and each sort's time with
the requests it made: the images of cards it brings near the viewport, nothing else.
Takes about 3 minutes on 2 CPU cores, most of it the job itself.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import httpx
from browser import signed_in_browser
from local_service import API_KEYS, local_service
from playwright.sync_api import Page

# Installed before the page's scripts: the moment the grid holds every card, and the next frame.
WATCH_CARDS = """
new MutationObserver((_, observer) => {
  if (document.querySelectorAll('.filter-card').length < %d) return;
  observer.disconnect();
  window.cardsAt = performance.now();
  requestAnimationFrame(() => setTimeout(() => { window.paintedAt = performance.now(); }));
}).observe(document, { childList: true, subtree: true });
"""
SORT = """order => {
  const select = document.getElementById('sort');
  const start = performance.now();
  select.value = order;
  select.dispatchEvent(new Event('change'));
  document.getElementById('filter-grid').offsetHeight;  // the layout it causes, too
  return performance.now() - start;
}"""

# The layout alone, for scale: the same grid laid out again with nothing moved.
RELAYOUT = """() => {
  const grid = document.getElementById('filter-grid');
  const start = performance.now();
  grid.style.gap = '.51rem';
  grid.offsetHeight;
  grid.style.gap = '';
  return performance.now() - start;
}"""


def run_layer_job(api_url: str, filters: int) -> str:
    headers = {"Authorization": f"Bearer {API_KEYS[0]}"}
    spec = {
        "model": "resnet50v2",
        "weights": "random",
        "layer": "conv3_block1_out",
        "image_size": 48,
        "iterations": 1,
        "snapshots": [],
        "filter_range": {"start": 0, "stop": filters},
        "pack_size": 64,
    }
    job = httpx.post(f"{api_url}/v1/layer-jobs", json=spec, headers=headers).raise_for_status()
    job_id: str = job.json()["id"]
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        status = httpx.get(f"{api_url}/v1/jobs/{job_id}", headers=headers).json()["status"]
        if status == "succeeded":
            return job_id
        if status in ("failed", "canceled"):
            raise SystemExit(f"the layer job {job_id} {status}")
        time.sleep(2)
    raise SystemExit(f"the layer job {job_id} did not finish in 15 minutes")


def open_once(page: Page, job_id: str, filters: int) -> dict[str, Any]:
    """One visit of the job's page: its timings, loads and structure."""
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto("about:blank")
    page.goto(f"/#/layer-jobs/{job_id}")
    page.wait_for_function("window.paintedAt !== undefined", timeout=60_000)
    page.wait_for_load_state("networkidle")
    figures: dict[str, Any] = page.evaluate(
        """() => {
          const job = performance.getEntriesByType('resource')
            .find(e => e.name.includes('/v1/jobs/'));
          const cards = [...document.querySelectorAll('.filter-card')];
          return {
            json_kb: job.encodedBodySize / 1024,
            to_cards_ms: window.cardsAt,
            build_ms: window.cardsAt - job.responseEnd,
            to_paint_ms: window.paintedAt,
            cards: cards.length,
            lazy: cards.every(c => c.querySelector('img').loading === 'lazy'),
            nodes_per_card: Math.max(...cards.map(c => c.querySelectorAll('*').length)),
          };
        }"""
    )
    figures["images_loaded"] = sum("/filter_" in url for url in requests)
    figures["relayout_ms"] = page.evaluate(RELAYOUT)
    for order in ("activation-desc", "activation-asc", "filter"):
        before = len(requests)
        figures[f"sort_{order}_ms"] = page.evaluate(SORT, order)
        # The lazy loads start at the next frames, after which networkidle can tell.
        page.wait_for_timeout(1000)
        page.wait_for_load_state("networkidle")
        made = requests[before:]
        # Images of the cards the new order brings near the viewport; nothing else expected.
        figures[f"sort_{order}_images"] = sum("/filter_" in url for url in made)
        figures[f"sort_{order}_other_requests"] = sum("/filter_" not in url for url in made)
    assert figures["cards"] == filters, figures
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--filters", type=int, default=512)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with local_service(workers=1) as service:
        assert service.api_url is not None
        started = time.monotonic()
        job_id = run_layer_job(service.api_url, args.filters)
        print(f"layer job of {args.filters} filters: {time.monotonic() - started:.0f} s")
        with signed_in_browser(service.api_url) as context:
            context.add_init_script(WATCH_CARDS % args.filters)
            runs = [open_once(context.new_page(), job_id, args.filters) for _ in range(args.runs)]
    print(f"| {args.filters} filters, median of {args.runs} visits | value |")
    print("| --- | --- |")
    for name, first in runs[0].items():
        values = [run[name] for run in runs]
        if isinstance(first, bool):
            print(f"| {name} | {all(values)} |")
        elif not name.endswith(("_ms", "_kb")):
            print(f"| {name} | {statistics.median_low(values)} |")
        else:
            print(f"| {name} | {statistics.median(values):.1f} |")


if __name__ == "__main__":
    main()
