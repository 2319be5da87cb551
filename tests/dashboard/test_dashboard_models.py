"""The models page's actions in Chromium: the token typed once (none, wrong, right), a recluster
run requested from the page and run by a real `cinecluster scheduler` process, a second request
refused while it goes (409, in words), a rollback; the overview follows the active version."""

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from dashboard_helpers import TOKEN, ConsoleLog, Server, screenshot
from playwright.sync_api import expect

RUN_DEADLINE_MS = 300_000  # a recluster of ml-latest-small on a busy 2-core machine, with margin


@pytest.fixture
def served(clustered_db_url: str) -> Iterator[Server]:
    """The API (token TOKEN) and a scheduler process on a fresh clustered database."""
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "cinecluster", "scheduler"],
        env={**os.environ, "DATABASE_URL": clustered_db_url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = Server(clustered_db_url).wait_ready()
    yield server
    scheduler.terminate()
    scheduler.wait(timeout=120)
    err = server.stop()
    assert "Traceback" not in err, err


def _console_errors(console: ConsoleLog, refused: set[int]) -> list[str]:
    """Console errors, less Chromium's own line for an admin answer the test asked for
    ("Failed to load resource: ... status of 403"): the page explains those in words."""
    return [
        e
        for e in console.take()
        if not any(f"status of {code}" in e and "Failed to load resource" in e for code in refused)
    ]


def test_actions_need_the_token_then_recluster_and_rollback_work(served: Server, page: Any) -> None:
    browser_page, console = page
    browser_page.goto(f"{served.base}/dashboard/models")
    recluster = browser_page.get_by_role("button", name="Recluster now")
    expect(recluster).to_be_disabled()
    expect(browser_page.locator("#action-hint")).to_contain_text("enter the admin token")
    screenshot(browser_page, "models")

    browser_page.get_by_role("textbox", name="Token").fill("not-the-token")
    browser_page.get_by_role("button", name="Use token").click()
    expect(recluster).to_be_enabled()
    recluster.click()
    message = browser_page.locator("#action-message")
    expect(message).to_contain_text("Refused (403): the token is wrong")
    assert served.json("/models/active")["version"] == 1  # nothing happened

    browser_page.get_by_role("textbox", name="Token").fill(TOKEN)
    browser_page.get_by_role("button", name="Use token").click()
    recluster.click()
    expect(message).to_contain_text("requested")
    run_id = int(message.inner_text().split()[1])
    recluster.click()  # while the first is requested or running: refused, in words
    expect(message).to_contain_text("Not started (409)")
    expect(message).to_contain_text("already")
    expect(browser_page.locator(".run-progress")).to_contain_text(f"Run {run_id} is")
    expect(message).to_contain_text(f"Run {run_id} succeeded", timeout=RUN_DEADLINE_MS)  # after the reload
    expect(browser_page.locator("#versions tr.active-row")).to_have_attribute("data-version", "2")
    assert served.json("/models/active")["version"] == 2

    browser_page.goto(f"{served.base}/dashboard")
    expect(browser_page.locator("[data-active-version]")).to_have_text("v2")
    expect(browser_page.locator(f"#runs-table tr[data-run='{run_id}']")).to_have_attribute(
        "data-status", "succeeded"
    )

    browser_page.goto(f"{served.base}/dashboard/models")  # the token is still there (same tab session)
    browser_page.get_by_role("button", name="Activate v1").click()
    expect(message).to_contain_text("Version 1 is active now")
    assert served.json("/models/active")["version"] == 1
    browser_page.goto(f"{served.base}/dashboard")
    expect(browser_page.locator("[data-active-version]")).to_have_text("v1")
    assert _console_errors(console, refused={403, 409}) == []


def test_a_server_without_a_token_says_writes_are_off(clustered_db_url: str, page: Any) -> None:
    server = Server(clustered_db_url, token=None).wait_ready()
    try:
        browser_page, console = page
        browser_page.goto(f"{server.base}/dashboard/models")
        expect(browser_page.locator("#token-state")).to_contain_text("Writes are disabled on this server")
        expect(browser_page.get_by_role("button", name="Recluster now")).to_be_disabled()
        expect(browser_page.locator("#action-hint")).to_contain_text("writes are off")
        assert console.take() == []
    finally:
        assert "Traceback" not in server.stop()
