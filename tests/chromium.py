"""The system's headless Chromium (Debian's `chromium`), driven by Playwright for the browser
tests; no browser is downloaded, and it reaches nothing beyond 127.0.0.1."""

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Browser, Error, ViewportSize, sync_playwright

CHROMIUM = "/usr/bin/chromium"
#: Headless, no sandbox (CI runs as root), and no traffic beyond the servers on 127.0.0.1.
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
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}


@contextmanager
def chromium() -> Iterator[Browser]:
    """Headless Chromium from the system, with a fresh temporary profile; fails if it cannot."""
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: on Debian, apt-get install -y chromium")
    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_FLAGS, timeout=60_000
            )
        except Error as exc:
            pytest.fail(f"Chromium ({CHROMIUM}) did not start: {exc}")
        with launched:
            yield launched
