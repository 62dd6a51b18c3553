"""Debian's headless Chromium, driven by Playwright, signed in to the web page of the service
that ``benchmarks/local_service.py`` starts."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

from local_service import API_KEYS
from playwright.sync_api import BrowserContext, sync_playwright

# Flags for a closed network, as root, without a GPU.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]
VIEWPORT = {"width": 1200, "height": 900}


@contextmanager
def signed_in_browser(api_url: str) -> Iterator[BrowserContext]:
    """A browser context whose pages open on ``api_url``, signed in with the first key."""
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(base_url=api_url, viewport=VIEWPORT)
            # Before the page's own scripts, which read the key from the tab's session storage.
            context.add_init_script(f"sessionStorage.setItem('featviz-api-key', '{API_KEYS[0]}')")
            yield context
        finally:
            browser.close()
