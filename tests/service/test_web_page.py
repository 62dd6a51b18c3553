"""The web page in a real browser (Debian's headless Chromium driven by Playwright), against the
real stack: sign in, submit, watch a job finish, browse a layer job, see validation errors."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn

from api.main import create_app
from featviz.settings import hash_api_key
from tests.helpers.dataset_files import image_zip, photos
from tests.helpers.paths import REPO_ROOT
from tests.helpers.service_stack import API_KEY, OTHER_API_KEY, Stack, eventually, free_port
from tests.service.test_datasets import decoded
from tests.service.test_datasets import upload as upload_dataset

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
    assert "null" not in page.inner_text("main"), "a part the view left out is not shown"
    page.screenshot(path=str(ARTIFACTS / "web-job.png"), full_page=True)
    job_url = page.url
    visit(page, "#/jobs?status=succeeded")
    page.wait_for_selector("table")
    assert job_url.split("#")[1].removeprefix("/jobs/") in page.inner_text("table")


@pytest.fixture(scope="module")
def layer_job(page: Any, local_stack: Stack) -> dict[str, Any]:
    """A small layer job submitted on the page's form, as the API returns it once finished."""
    visit(page, "#/new")
    page.click("button:has-text('A whole layer')")
    page.wait_for_selector("#field-filters")
    fill_form(page, {**SMALL_JOB, "snapshots": "5", "filters": "0-5", "pack_size": "3"})
    page.click("button:has-text('Visualise')")
    page.wait_for_selector("[data-status=succeeded]", timeout=180_000)
    # The grid grew as the packs finished, each card put in its place.
    page.wait_for_selector("#filter-grid .filter-card >> nth=5")
    assert grid_order(page) == [0, 1, 2, 3, 4, 5]
    job_id = page.url.split("#/jobs/")[1]
    job: dict[str, Any] = local_stack.get(f"/v1/layer-jobs/{job_id}").json()
    return job


def grid_order(page: Any) -> list[int]:
    order: list[int] = page.eval_on_selector_all(
        "#filter-grid .filter-card", "cards => cards.map(card => +card.dataset.filter)"
    )
    return order


def focused_filter(page: Any) -> int | None:
    filter_: int | None = page.evaluate(
        "document.activeElement.classList.contains('filter-card') ? "
        "+document.activeElement.dataset.filter : null"
    )
    return filter_


def test_layer_browser_shows_every_filter_once_lazily(page: Any, layer_job: dict[str, Any]) -> None:
    visit(page, f"#/jobs/{layer_job['id']}")
    page.wait_for_selector("#filter-grid .filter-card >> nth=5")
    assert "succeeded: 6" in page.inner_text("#counts")
    assert grid_order(page) == [0, 1, 2, 3, 4, 5]
    # What keeps 512 filters fast: lazy images sized up front, a few nodes per card, the grid
    # built from the one job request (no request per filter but its image).
    cards = page.eval_on_selector_all(
        ".filter-card",
        """cards => cards.map(card => ({
            nodes: card.querySelectorAll('*').length,
            images: [...card.querySelectorAll('img')].map(i => [i.loading, i.width > 0])}))""",
    )
    assert all(card["nodes"] <= 4 for card in cards), cards
    assert all(card["images"] == [["lazy", True]] for card in cards), cards
    page.wait_for_load_state("networkidle")
    assert all(width > 0 for width in images_loaded(page, ".filter-card img"))
    page.click("summary:has-text('Contact sheet of every filter')")
    page.wait_for_selector("img[alt='contact sheet of every filter']")
    assert page.locator("#filter-detail").is_hidden()


def test_layer_browser_sorts_in_place(page: Any, layer_job: dict[str, Any]) -> None:
    visit(page, f"#/layer-jobs/{layer_job['id']}")
    page.wait_for_selector("#filter-grid .filter-card >> nth=5")
    page.wait_for_load_state("networkidle")
    # Each card is tagged: a sort that re-created the grid would lose the tags.
    page.eval_on_selector_all(".filter-card", "cards => cards.forEach(c => { c.tagged = true; })")
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    activations = {final["filter"]: final["activation"] for final in layer_job["finals"]}
    highest_first = sorted(activations, key=lambda f: (-activations[f], f))
    page.select_option("#sort", "activation-desc")
    assert grid_order(page) == highest_first
    page.select_option("#sort", "activation-asc")
    assert grid_order(page) == sorted(activations, key=lambda f: (activations[f], f))
    page.select_option("#sort", "filter")
    assert grid_order(page) == [0, 1, 2, 3, 4, 5]
    assert page.eval_on_selector_all(".filter-card", "cards => cards.every(c => c.tagged)")
    assert requests == []


def test_layer_browser_keyboard_and_permalinks(page: Any, layer_job: dict[str, Any]) -> None:
    job_id = layer_job["id"]
    visit(page, f"#/layer-jobs/{job_id}")
    page.wait_for_selector("#filter-grid .filter-card >> nth=5")
    page.select_option("#sort", "activation-desc")
    order = grid_order(page)
    page.focus("summary")  # the contact sheet's: the last control before the grid
    page.keyboard.press("Tab")  # into the grid: its first card
    assert focused_filter(page) == order[0]
    page.keyboard.press("ArrowRight")
    assert focused_filter(page) == order[1]
    columns = page.evaluate(
        "getComputedStyle(document.getElementById('filter-grid'))"
        ".gridTemplateColumns.split(' ').length"
    )
    page.keyboard.press("ArrowDown")
    assert focused_filter(page) == order[min(1 + columns, 5)]
    page.keyboard.press("Home")
    page.keyboard.press("ArrowLeft")  # stops at the first card
    assert focused_filter(page) == order[0]
    page.keyboard.press("Enter")
    page.wait_for_selector(f"#filter-detail h2:has-text('Filter {order[0]}')")
    assert page.url.endswith(f"#/layer-jobs/{job_id}/filters/{order[0]}")
    # The open panel follows the arrows.
    page.keyboard.press("ArrowRight")
    page.wait_for_selector(f"#filter-detail h2:has-text('Filter {order[1]}')")
    assert page.url.endswith(f"#/layer-jobs/{job_id}/filters/{order[1]}")
    page.keyboard.press("Escape")
    assert page.locator("#filter-detail").is_hidden()
    assert focused_filter(page) == order[1]
    assert page.url.endswith(f"#/layer-jobs/{job_id}")

    # A permalink opens the page on that filter's detail: its picture, metrics and figures.
    visit(page, f"#/layer-jobs/{job_id}/filters/4")
    page.wait_for_selector("#filter-detail h2:has-text('Filter 4')")
    assert focused_filter(page) == 4
    assert page.get_attribute("[data-filter='4']", "aria-current") == "true"
    permalink = page.get_attribute("#filter-detail a.permalink", "href")
    assert permalink == f"#/layer-jobs/{job_id}/filters/4"
    final = next(final for final in layer_job["finals"] if final["filter"] == 4)
    assert f"activation {final['activation']:.3f}" in page.inner_text("#detail-metrics")
    page.wait_for_selector("#filter-detail img[alt='progression of filter 4']")
    page.wait_for_load_state("networkidle")
    widths = images_loaded(page, "#filter-detail img")
    assert len(widths) == 3  # the final image, the progression sheet (its snapshots), the GIF
    assert all(width > 0 for width in widths)
    # Where the filter's dataset exemplars will go: there, empty and hidden without an exemplar job.
    slot = page.locator("#filter-exemplars[data-filter='4']")
    assert slot.count() == 1
    assert slot.is_hidden()
    page.screenshot(path=str(ARTIFACTS / "web-layer-browser.png"), full_page=True)
    page.click("#filter-detail button[aria-label=close]")
    assert page.locator("#filter-detail").is_hidden()


def test_layer_browser_marks_dead_filters(page: Any, local_stack: Stack) -> None:
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
    assert dead.get_attribute("class") == "filter-card never-alive"
    assert dead.get_attribute("title") == "dead at the start image; never came alive"
    revived = page.locator("[data-filter='0']")
    assert revived.get_attribute("class") == "filter-card revived"
    assert "revived at iteration" in revived.inner_text()
    assert page.get_attribute("[data-filter='1']", "class") == "filter-card"
    assert "dead at start: 2 (never came alive: 1)" in page.inner_text("#counts")
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


# Exemplars beside a layer job's filters: the untrained VGG16's first layer, 32 px, a few photos.
EXEMPLAR_LAYER = {"model": "vgg16", "weights": "random", "layer": "block1_conv1"}


@pytest.fixture(scope="module")
def exemplar_job(local_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A finished exemplar job for filters 0 and 1 over scikit-image's photographs."""
    archive = image_zip(tmp_path_factory.mktemp("web") / "photos.zip", photos(32))
    response = upload_dataset(local_stack, archive)
    assert response.status_code == 202, response.text
    dataset = decoded(local_stack, response.json()["id"])
    assert dataset["status"] == "ready", dataset
    body = EXEMPLAR_LAYER | {"filters": [0, 1], "dataset": dataset["id"], "k": 3, "image_size": 32}
    job: dict[str, Any] = local_stack.wait(local_stack.submit("/v1/exemplar-jobs", body)["id"])
    assert job["status"] == "succeeded", job
    return job


def test_the_layer_browser_shows_the_named_exemplar_jobs_strips(
    page: Any, local_stack: Stack, exemplar_job: dict[str, Any]
) -> None:
    body = EXEMPLAR_LAYER | {"filters": [0, 1], "image_size": 32, "iterations": 3}
    created = local_stack.submit(
        "/v1/layer-jobs", body | {"snapshots": [1], "exemplar_job": exemplar_job["id"]}
    )
    assert local_stack.wait(created["id"])["status"] == "succeeded"
    visit(page, f"#/layer-jobs/{created['id']}/filters/1")
    slot = page.wait_for_selector("#filter-exemplars[data-filter='1'] img >> nth=1")
    assert slot.is_visible()
    page.wait_for_load_state("networkidle")
    images = "#filter-exemplars img"
    assert all(width > 0 for width in images_loaded(page, images))
    shown = page.eval_on_selector_all(images, "images => images.map(i => [i.alt, i.src])")
    # The exemplar job's own files for filter 1 (the links are signed anew at each request).
    files = exemplar_job["files"]
    assert [(alt, urlsplit(src).path) for alt, src in shown] == [
        ("exemplars of filter 1, cropped", urlsplit(files["filter_0001/exemplars.png"]).path),
        (
            "exemplars of filter 1, whole images",
            urlsplit(files["filter_0001/exemplars_full.png"]).path,
        ),
    ]
    page.screenshot(path=str(ARTIFACTS / "web-layer-exemplars.png"), full_page=True)


def refused_field_messages(stack: Stack, body: dict[str, Any], key: str = API_KEY) -> list[str]:
    """The messages of a layer job refused for its ``exemplar_job`` (and only that), recording
    nothing."""
    owner = hash_api_key(key)
    before = stack.store.count_owned(owner)
    response = stack.post("/v1/layer-jobs", key=key, json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    errors = response.json()["errors"]
    assert [error["field"] for error in errors] == ["exemplar_job"], errors
    assert stack.store.count_owned(owner) == before, "nothing recorded"
    return [error["message"] for error in errors]


@pytest.mark.parametrize(
    ("change", "key", "phrase"),
    [
        ({"exemplar_job": "0" * 28}, API_KEY, "unknown exemplar job"),
        ({}, OTHER_API_KEY, "unknown exemplar job"),
        ({"layer": "block1_conv2"}, API_KEY, "has layer 'block1_conv1'"),
        ({"weights": "imagenet"}, API_KEY, "has weights 'random'"),
    ],
)
def test_a_layer_job_naming_a_wrong_exemplar_job_is_refused(
    local_stack: Stack, exemplar_job: dict[str, Any], change: dict[str, str], key: str, phrase: str
) -> None:
    body = EXEMPLAR_LAYER | {"filters": [0], "image_size": 32, "iterations": 3, "snapshots": [1]}
    named = body | {"exemplar_job": exemplar_job["id"]} | change
    [message] = refused_field_messages(local_stack, named, key)
    assert phrase in message


def test_a_layer_job_cannot_name_another_kind_of_job_as_exemplars(
    local_stack: Stack, layer_job: dict[str, Any]
) -> None:
    body = {key: layer_job["spec"][key] for key in ("model", "weights", "layer", "image_size")}
    named = body | {"iterations": 3, "snapshots": [1], "exemplar_job": layer_job["id"]}
    assert refused_field_messages(local_stack, named) == [
        f"unknown exemplar job {layer_job['id']!r}"
    ]
