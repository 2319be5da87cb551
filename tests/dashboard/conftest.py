"""Browser tests: `cinecluster serve` as a subprocess, Debian's Chromium through Playwright."""

from collections.abc import Iterator
from typing import Any

import pytest
from dashboard_helpers import CHROMIUM, CHROMIUM_ARGS, ConsoleLog, Server, require_chromium


# Module scope, not session: Playwright's sync API keeps an event loop running while it is open,
# which would break later tests that call asyncio.run() (tests/service/test_async_pool.py).
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[tuple[Any, ConsoleLog]]:
    """A fresh browser context (own sessionStorage) at desktop width, with its console log."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page, ConsoleLog(page)
    context.close()


@pytest.fixture(scope="module")
def read_server(databases, clustered_template: str) -> Iterator[Server]:  # type: ignore[no-untyped-def]
    """One server on a clustered clone of ml-latest-small, for the tests that only read."""
    server = Server(databases.create(template=clustered_template)).wait_ready()
    yield server
    err = server.stop()
    assert "Traceback" not in err, err
