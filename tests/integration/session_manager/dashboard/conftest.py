"""A real browser for the dashboard tests: Debian's chromium (scripts/ensure-chromium.sh),
driven by Playwright; `playwright install` is never needed (it would download a browser).
Playwright starts chromium on a fresh temporary profile (--user-data-dir) and each test
opens its own context, so no cookie crosses tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

#: Flags that work on a headless CI machine without a user-namespace sandbox or network.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("no chromium: run scripts/ensure-chromium.sh (make integration does)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=CHROMIUM_FLAGS
        )
        yield browser
        browser.close()
