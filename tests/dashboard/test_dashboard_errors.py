"""Unknown ids give the 404 page; a database that goes away gives a readable 503 page."""

from typing import Any

import pytest
from dashboard_helpers import ConsoleLog, Server, screenshot
from playwright.sync_api import expect
from sqlalchemy.engine import make_url

from cinecluster.databases import drop_database


def _document_errors_only(console: ConsoleLog, status: int) -> None:
    """Chromium logs the page's own error status once ("Failed to load resource"); nothing else."""
    assert [e for e in console.take() if f"status of {status}" not in e] == []


@pytest.mark.parametrize(
    ("path", "heading"),
    [
        ("/dashboard/movies/99999999", "Movie not found"),
        ("/dashboard/users/99999999", "User not found"),
        ("/dashboard/clusters/999", "Cluster not found"),
        ("/dashboard/users/abc", "Page not found"),
        ("/dashboard/no/such/page", "Page not found"),
    ],
)
def test_an_unknown_id_or_address_is_the_404_page(
    read_server: Server, page: Any, path: str, heading: str
) -> None:
    browser_page, console = page
    response = browser_page.goto(f"{read_server.base}{path}")
    assert response is not None and response.status == 404
    expect(browser_page.locator("h1")).to_have_text(heading)
    expect(browser_page.get_by_role("link", name="Back to the overview")).to_be_visible()
    if path.endswith("99999999") and "movies" in path:
        screenshot(browser_page, "not-found")
    _document_errors_only(console, 404)


def test_a_database_that_goes_away_gives_a_readable_503_page(
    databases: Any, clustered_template: str, page: Any
) -> None:
    url = databases.create(template=clustered_template)
    server = Server(url).wait_ready()
    browser_page, console = page
    try:
        assert browser_page.goto(f"{server.base}/dashboard/movies/1").status == 200
        # FORCE terminates the server's connections too
        drop_database(databases.server_url, str(make_url(url).database))
        for path in ["/dashboard", "/dashboard/movies/1", "/dashboard/users/1", "/dashboard/clusters"]:
            response = browser_page.goto(f"{server.base}{path}")
            assert response is not None and response.status == 503, path
            expect(browser_page.locator("h1")).to_have_text("The database is not answering")
            body = browser_page.locator("body").inner_text()
            assert "Traceback" not in body and "psycopg" not in body
        screenshot(browser_page, "unavailable")
        _document_errors_only(console, 503)
    finally:
        assert "Traceback" not in server.stop()
