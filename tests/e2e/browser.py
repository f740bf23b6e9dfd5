"""Headless Chromium for the console's browser tests: Debian's ``chromium`` package driven by
Playwright for Python (``executable_path``; Playwright's own browser download is not used).
``scripts/ensure_browser.sh`` (run by ``make test``) installs it when absent; ``AIOS_CHROMIUM``
names another executable.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Browser, sync_playwright


def chromium_path() -> str:
    for candidate in (os.environ.get("AIOS_CHROMIUM"), "chromium", "chromium-browser"):
        if candidate and (found := shutil.which(candidate)):
            return found
    pytest.fail(
        "no chromium found: run scripts/ensure_browser.sh (make test does) or set AIOS_CHROMIUM"
    )


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium_path(),
            headless=True,
            # --no-sandbox: the tests may run as root in a container, where the sandbox cannot start
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        try:
            yield browser
        finally:
            browser.close()
