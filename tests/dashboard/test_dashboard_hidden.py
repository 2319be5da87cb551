"""The movie page's hide/show toggle in Chromium: disabled without the admin token, a wrong token
refused in words, then the movie hidden (badge, gone from every list) and shown again."""

from collections.abc import Iterator
from typing import Any

import pytest
from dashboard_helpers import TOKEN, Server, screenshot
from playwright.sync_api import expect


@pytest.fixture
def served(clustered_db_url: str) -> Iterator[Server]:
    server = Server(clustered_db_url).wait_ready()
    yield server
    err = server.stop()
    assert "Traceback" not in err, err


def _use_token(page: Any, base: str, token: str) -> None:
    page.goto(f"{base}/dashboard/models")
    page.get_by_role("textbox", name="Token").fill(token)
    page.get_by_role("button", name="Use token").click()


def test_an_admin_hides_a_movie_and_shows_it_again(served: Server, page: Any) -> None:
    browser_page, console = page
    movie = served.json("/recommend/user/1", n=1)[0]["movieId"]  # the top of a stored list
    browser_page.goto(f"{served.base}/dashboard/movies/{movie}")
    toggle = browser_page.get_by_role("button", name="Hide from recommendations")
    expect(toggle).to_be_disabled()
    expect(browser_page.locator("#visibility-hint")).to_contain_text("enter it on the Models page")

    _use_token(browser_page, served.base, "not-the-token")
    browser_page.goto(f"{served.base}/dashboard/movies/{movie}")
    toggle.click()
    message = browser_page.locator("#visibility-message")
    expect(message).to_contain_text("Refused (403): the token is wrong")
    assert served.json(f"/movie/{movie}")["hidden"] is False

    _use_token(browser_page, served.base, TOKEN)
    browser_page.goto(f"{served.base}/dashboard/movies/{movie}")
    toggle.click()
    expect(message).to_contain_text("Hidden: no recommendation list contains this movie")  # after the reload
    expect(browser_page.locator("#visibility")).to_contain_text("Hidden from recommendations")
    assert served.json(f"/movie/{movie}")["hidden"] is True
    assert movie not in [i["movieId"] for i in served.json("/recommend/user/1", n=20)]
    browser_page.goto(f"{served.base}/dashboard/users/1")
    expect(browser_page.locator(f"a[href='/dashboard/movies/{movie}']")).to_have_count(0)
    browser_page.goto(f"{served.base}/dashboard/movies/{movie}")
    screenshot(browser_page, "movie-hidden")

    browser_page.get_by_role("button", name="Show in recommendations again").click()
    expect(message).to_contain_text("Shown again")
    assert served.json(f"/movie/{movie}")["hidden"] is False
    assert served.json("/recommend/user/1", n=1)[0]["movieId"] == movie
    errors = [e for e in console.take() if not ("status of 403" in e and "Failed to load resource" in e)]
    assert errors == []


def test_a_server_without_a_token_says_writes_are_off(clustered_db_url: str, page: Any) -> None:
    server = Server(clustered_db_url, token=None).wait_ready()
    try:
        browser_page, console = page
        browser_page.goto(f"{server.base}/dashboard/movies/1")
        expect(browser_page.get_by_role("button", name="Hide from recommendations")).to_be_disabled()
        expect(browser_page.locator("#visibility-hint")).to_contain_text("writes are off")
        assert console.take() == []
    finally:
        assert "Traceback" not in server.stop()
