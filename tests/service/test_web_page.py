"""The web page in a real browser (Debian's headless Chromium driven by Playwright), against the
real stack: sign in, submit, watch a job finish, browse a layer job, see validation errors."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from api.main import create_app
from tests.helpers.paths import REPO_ROOT
from tests.helpers.service_stack import API_KEY, Stack, eventually, free_port

playwright_sync = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = REPO_ROOT / "test-artifacts"
# Chromium flags for a closed network, as root, without a GPU.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SMALL_JOB = {
    "weights": "random",
    "layer": "conv3_block1_out",
    "iterations": "12",
    "image_size": "64",
}


@pytest.fixture(scope="module")
def base_url(local_stack: Stack) -> Iterator[str]:
    """The API of the local stack, served over HTTP for the browser."""
    port = free_port()
    config = uvicorn.Config(create_app(local_stack.settings), port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    eventually(lambda: server.started or None, 30, "the web server to start")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def page(base_url: str) -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `make system-deps` installs Debian's chromium")
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright_sync.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=base_url, viewport={"width": 1200, "height": 900})
        tab = context.new_page()
        tab.set_default_timeout(20_000)
        # Signed in, as after the sign-in test, so that each test can also run alone.
        tab.goto("/")
        tab.evaluate("key => sessionStorage.setItem('featviz-api-key', key)", API_KEY)
        yield tab
        browser.close()


def visit(page: Any, fragment: str) -> None:
    """Open a view afresh (the same fragment twice would not re-render the page)."""
    page.goto("about:blank")
    page.goto(f"/{fragment}")


def fill_form(page: Any, values: dict[str, str]) -> None:
    for name, value in values.items():
        field = page.locator(f"#field-{name}")
        if field.evaluate("node => node.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)


def images_loaded(page: Any, selector: str) -> list[int]:
    widths: list[int] = page.eval_on_selector_all(
        selector, "images => images.map(image => image.complete ? image.naturalWidth : 0)"
    )
    return widths


def test_sign_in_keeps_the_key_in_the_tab_only(page: Any) -> None:
    page.evaluate("sessionStorage.clear()")
    visit(page, "")
    page.fill("#api-key", "not-a-key")
    page.click("button[type=submit]")
    page.wait_for_selector("text=That key is not accepted.")
    page.fill("#api-key", API_KEY)
    page.click("button[type=submit]")
    page.wait_for_selector("h1:has-text('Jobs')")
    assert page.evaluate("sessionStorage.getItem('featviz-api-key')") == API_KEY
    assert page.evaluate("localStorage.length") == 0


def test_validation_error_is_shown_next_to_its_field(page: Any) -> None:
    visit(page, "#/new")
    page.wait_for_selector("#field-layer option", state="attached")
    fill_form(page, {**SMALL_JOB, "snapshots": "5,50"})
    page.click("button:has-text('Visualise')")
    error = page.wait_for_selector("#error-snapshots:not(:empty)")
    assert "< iterations" in error.inner_text()
    assert page.get_attribute("#field-snapshots", "aria-invalid") == "true"
    assert page.inner_text("#error-filter") == ""
    # Every field of the spec is on the form, from /openapi.json, with its default.
    assert page.input_value("#field-relu_warmup") == "0"
    assert page.input_value("#field-objective") == "channel:1"
    assert page.input_value("#field-transform_jitter") == ""
    assert page.input_value("#field-preset") == "seed"
    page.screenshot(path=str(ARTIFACTS / "web-validation.png"), full_page=True)


def test_submit_a_job_and_watch_it_finish(page: Any) -> None:
    visit(page, "#/new")
    page.wait_for_selector("#field-layer option", state="attached")
    fill_form(page, {**SMALL_JOB, "snapshots": "2,5,10", "filter": "4"})
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.click("button:has-text('Visualise')")
    page.wait_for_selector("[data-status=succeeded]", timeout=120_000)
    job_id = page.url.split("#/jobs/")[1]
    assert any(f"/v1/jobs/{job_id}/events?" in url for url in requested), "it follows the events"
    page.wait_for_selector("img[alt='contact sheet']")
    page.wait_for_load_state("networkidle")
    iterations = page.eval_on_selector_all(
        "figure.snapshot", "figures => figures.map(f => +f.dataset.iteration)"
    )
    assert iterations == [2, 5, 10]
    widths = images_loaded(page, "figure.snapshot img, .sheet img")
    assert len(widths) == 5  # three snapshots, the sheet and the GIF
    assert all(width > 0 for width in widths)
    # One line for the optimised image's activation, one for the PNG's as displayed.
    assert page.locator("svg.chart polyline.series-activation").count() == 1
    assert page.locator("svg.chart polyline.series-displayed_activation").count() == 1
    assert "as displayed" in page.inner_text("figure.snapshot figcaption >> nth=0")
    page.screenshot(path=str(ARTIFACTS / "web-job.png"), full_page=True)
    job_url = page.url
    visit(page, "#/jobs?status=succeeded")
    page.wait_for_selector("table")
    assert job_url.split("#")[1].removeprefix("/jobs/") in page.inner_text("table")


def test_layer_job_sheet_and_a_filter_progression(page: Any) -> None:
    visit(page, "#/new")
    page.click("button:has-text('A whole layer')")
    page.wait_for_selector("#field-filters")
    fill_form(page, {**SMALL_JOB, "snapshots": "5", "filters": "0-3", "pack_size": "2"})
    page.click("button:has-text('Visualise')")
    page.wait_for_selector("[data-status=succeeded]", timeout=180_000)
    page.wait_for_selector("img[alt='contact sheet of every filter']")
    assert "succeeded: 4" in page.inner_text("#counts")
    page.click("[data-filter='2']")
    page.wait_for_selector("#filter-detail img[alt='progression of filter 2']")
    page.wait_for_load_state("networkidle")
    widths = images_loaded(page, ".sheet img, .filters img")
    assert len(widths) == 1 + 4 + 2
    assert all(width > 0 for width in widths)
    page.screenshot(path=str(ARTIFACTS / "web-layer.png"), full_page=True)


def test_layer_view_marks_a_filter_that_never_came_alive(page: Any, local_stack: Stack) -> None:
    # block2_conv2 of the trained VGG16 at 64 px: filter 4 is dead at the start image and stays
    # so for 6 iterations; filter 0 is dead too but comes alive (tests/service/test_worker_jobs.py).
    created = local_stack.submit(
        "/v1/layer-jobs",
        {
            "model": "vgg16",
            "weights": "hed-bsds500",
            "layer": "block2_conv2",
            "image_size": 64,
            "iterations": 6,
            "snapshots": [2],
            "filters": [0, 1, 4],
        },
    )
    local_stack.wait(created["id"])
    visit(page, f"#/jobs/{created['id']}")
    page.wait_for_selector("[data-status=succeeded]")
    dead = page.locator("[data-filter='4']")
    assert "never came alive" in dead.inner_text()
    assert dead.get_attribute("title") == "never came alive"
    assert "never came alive" not in page.inner_text("[data-filter='1']")
    page.click("[data-filter='0']")
    note = page.wait_for_selector("#filter-detail #start-note")
    assert "dead at the start image; came alive at iteration" in note.inner_text()
    page.screenshot(path=str(ARTIFACTS / "web-never-alive.png"), full_page=True)


def test_comparison_shows_the_tv_weights_side_by_side(page: Any) -> None:
    visit(page, "#/new")
    page.click("button:has-text('TV weights side by side')")
    page.wait_for_selector("#field-tv_weights")
    fill_form(page, {**SMALL_JOB, "snapshots": "5", "tv_start": "2", "tv_weights": "0,0.01,0.1"})
    page.click("button:has-text('Visualise')")
    page.wait_for_selector("[data-status=succeeded]", timeout=120_000)
    page.wait_for_selector("img[alt='comparison grid']")
    page.wait_for_load_state("networkidle")
    captions = page.eval_on_selector_all("figure figcaption", "cs => cs.map(c => c.innerText)")
    assert [caption.splitlines()[0] for caption in captions] == ["TV 0", "TV 0.01", "TV 0.1"]
    assert all(width > 0 for width in images_loaded(page, "figure img, .sheet img"))
    page.screenshot(path=str(ARTIFACTS / "web-comparison.png"), full_page=True)
