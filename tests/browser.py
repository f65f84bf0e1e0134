"""Browser fixtures and helpers: real Chromium through Playwright's sync API against pytest-django's
live server. The fixtures are registered once, in tests/conftest.py, so one Playwright runs per session."""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Playwright's sync API runs an event loop in this thread; Django's ORM calls from the test body
# are still plain synchronous calls, so allow them.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One Chromium for the whole run (the function-scoped ``chromium_path`` check, done once)."""
    from playwright.sync_api import sync_playwright

    chromium_path = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium_path).exists():
        pytest.skip("Chromium is not installed (apt-get install chromium)")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def warm_urlconf() -> None:
    """Import every urlconf (and what the apps import: torch, open_clip) before the browser's
    first request, whose navigation timeout would otherwise pay for it."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - the import is the point


@pytest.fixture
def page(browser: Any, warm_urlconf: None, transactional_db: None) -> Iterator[Any]:
    """A fresh browser context per test. It depends on transactional_db so that it closes first:
    a page still polling or prefetching when the test ends must not race the flush of the
    database (TRUNCATE waits for its open transaction: a deadlock)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        yield page
    finally:
        context.close()


def login(page: Any, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")


def wait_js(page: Any, expression: str, timeout: float = 10.0) -> Any:
    """Wait until a JavaScript expression is truthy and return its value. Polls page.evaluate from
    here: Playwright's wait_for_function builds its predicate with eval, which the pages' CSP
    (script-src 'self', no 'unsafe-eval') refuses."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(expression)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {expression}")
        page.wait_for_timeout(50)
