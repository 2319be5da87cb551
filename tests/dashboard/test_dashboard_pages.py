"""Every read page in Chromium against ml-latest-small, its content checked against the API's
JSON for the same ids; no console errors; screenshots at 1280 and 390 px."""

from typing import Any

import pytest
from dashboard_helpers import ConsoleLog, Server, screenshot
from playwright.sync_api import expect

# figures of ml-latest-small itself (counts, user and movie ids, titles)
pytestmark = pytest.mark.real_sample

Page = tuple[Any, ConsoleLog]


def _texts(locator: Any) -> list[str]:
    return [t.strip() for t in locator.all_inner_texts()]


def _open(page: Any, url: str) -> None:
    response = page.goto(url)
    assert response is not None and response.status == 200, (url, response and response.status)


def test_overview_shows_the_counts_the_active_model_its_quality_and_the_runs(
    read_server: Server, page: Page
) -> None:
    browser_page, console = page
    _open(browser_page, f"{read_server.base}/dashboard")
    root = read_server.json("/")
    for name in ("movies", "ratings", "tags"):
        shown = browser_page.locator(f"[data-count={name}]").inner_text()
        assert shown == f"{root['counts'][name]:,}", name
    active = read_server.json("/models/active")
    assert browser_page.locator("[data-count=users]").inner_text() == f"{active['dataCounts']['users']:,}"
    expect(browser_page.locator("[data-active-version]")).to_have_text(f"v{active['version']}")
    facts = browser_page.locator("#active-model").text_content()  # with the folded genre flags
    assert f"{active['params']['k']}" in facts and all(f in facts for f in active["featureNames"])
    ndcg = active["metrics"]["holdout"]["ndcg_at_10"]
    assert f"Holdout NDCG@10{ndcg:.4g}" in facts
    chart = browser_page.get_by_role("img", name="NDCG@10 per model version")
    expect(chart).to_be_visible()
    assert f"v{active['version']} {ndcg:.4f}" in chart.locator("title").first.text_content()
    run = browser_page.locator("#runs-table tbody tr").first
    assert run.get_attribute("data-status") == "succeeded"
    assert " s" in run.locator("td").nth(4).inner_text()  # a duration
    expect(browser_page.locator("#next-run")).to_contain_text("Next scheduled run")
    screenshot(browser_page, "overview")
    assert console.take() == []


def test_clusters_and_a_cluster_page_list_what_the_api_lists(read_server: Server, page: Page) -> None:
    browser_page, console = page
    _open(browser_page, f"{read_server.base}/dashboard/clusters")
    api = read_server.json("/clusters")
    rows = browser_page.locator("#clusters-table tbody tr")
    expect(rows).to_have_count(len(api["clusters"]))
    for row, cluster in zip(rows.all(), api["clusters"], strict=True):
        cells = _texts(row.locator("td"))
        assert cells[0] == f"Cluster {cluster['cluster']}" and cells[1] == f"{cluster['size']:,}"
    for img in browser_page.locator("figure.plot img").all():  # the API's PNG plots, loaded
        img.scroll_into_view_if_needed()
        expect(img).to_have_js_property("complete", True)
        assert img.evaluate("i => i.naturalWidth") > 0
    expect(browser_page.locator("table.heatmap tbody tr")).to_have_count(len(api["clusters"]))
    screenshot(browser_page, "clusters")
    assert console.take() == []

    biggest = max(api["clusters"], key=lambda c: c["size"])["cluster"]
    browser_page.get_by_role("link", name=f"Cluster {biggest}", exact=True).click()
    expect(browser_page).to_have_url(f"{read_server.base}/dashboard/clusters/{biggest}")
    first = read_server.json(f"/clusters/{biggest}/movies")
    titles = _texts(browser_page.locator("section[aria-labelledby=movies-h] td.title"))
    assert titles == [m["title"] for m in first["items"]]
    screenshot(browser_page, "cluster")
    browser_page.get_by_role("link", name="Next →").click()
    second = read_server.json(f"/clusters/{biggest}/movies", offset=20)
    titles = _texts(browser_page.locator("section[aria-labelledby=movies-h] td.title"))
    assert titles == [m["title"] for m in second["items"]]
    browser_page.get_by_label("Sort by").select_option("rating")
    browser_page.get_by_role("button", name="Apply").click()
    by_rating = read_server.json(f"/clusters/{biggest}/movies", sort="rating")
    expect(browser_page.locator("section[aria-labelledby=movies-h] td.title").first).to_have_text(
        by_rating["items"][0]["title"]
    )
    assert console.take() == []


def test_a_search_typed_and_a_result_clicked_opens_the_movie_with_its_similar_movies(
    read_server: Server, page: Page
) -> None:
    browser_page, console = page
    _open(browser_page, f"{read_server.base}/dashboard/movies")
    browser_page.get_by_label("Title contains").fill("MATRIX")
    browser_page.keyboard.press("Enter")
    expect(browser_page).to_have_url(f"{read_server.base}/dashboard/movies?search=MATRIX")
    found = read_server.json("/movies", search="MATRIX")
    assert found["total"] >= 3  # partial and case-insensitive: "Matrix, The (1999)", sequels
    assert _texts(browser_page.locator("td.title")) == [m["title"] for m in found["items"]]
    screenshot(browser_page, "movies")

    browser_page.get_by_role("link", name="Matrix, The (1999)").click()
    movie = read_server.json("/movie/2571")
    expect(browser_page.locator("h1")).to_have_text(movie["title"])
    stats = browser_page.locator(".stats").inner_text()
    assert str(movie["year"]) in stats and f"{movie['ratingCount']:,}" in stats
    assert f"{movie['avgRating']:.2f}" in stats
    expect(browser_page.locator(".stats a")).to_have_text(str(movie["cluster"]))
    for strategy in ("ease", "co_liked", "neighbours"):
        expected = read_server.json("/recommend/movie/2571", n=10, strategy=strategy)
        listed = browser_page.get_by_role("list", name=f"Similar movies by {strategy}")
        assert _texts(listed.locator(".rec-title")) == [r["title"] for r in expected]
        assert _texts(listed.locator(".reason")) == [r["reason"] for r in expected]
    expect(browser_page.get_by_role("list", name="Similar movies by random").locator("li")).to_have_count(10)
    screenshot(browser_page, "movie")

    first_similar = read_server.json("/recommend/movie/2571", n=1)[0]
    browser_page.get_by_role("list", name="Similar movies by ease").get_by_role(
        "link", name=first_similar["title"], exact=True
    ).click()
    expect(browser_page).to_have_url(f"{read_server.base}/dashboard/movies/{first_similar['movieId']}")
    assert console.take() == []


def test_a_user_opened_by_id_shows_the_profile_the_clusters_and_the_api_recommendations(
    read_server: Server, page: Page
) -> None:
    browser_page, console = page
    _open(browser_page, f"{read_server.base}/dashboard/users")
    browser_page.get_by_label("User id").fill("1")
    browser_page.get_by_role("button", name="Open").click()
    expect(browser_page).to_have_url(f"{read_server.base}/dashboard/users/1")

    expected = read_server.json("/recommend/user/1", n=10)
    default = browser_page.locator("[data-strategy=ease]")
    assert _texts(default.locator(".rec-title")) == [r["title"] for r in expected]
    expect(default.locator(".badge-stored")).to_have_text("stored")  # unchanged since the run
    for strategy in ("liked_neighbours", "cluster"):
        listed = read_server.json("/recommend/user/1", n=10, strategy=strategy)
        shown = browser_page.locator(f"[data-strategy={strategy}]")
        assert _texts(shown.locator(".rec-title")) == [r["title"] for r in listed]
        expect(shown.locator(".badge-live")).to_have_text("live")

    favourite = read_server.json("/users/1/favorite-cluster")
    bars = browser_page.get_by_role("list", name="Affinity per cluster").locator("li")
    expect(bars).to_have_count(len(favourite["clusters"]))
    expect(browser_page.locator("li.favourite .bar-label")).to_have_text(
        f"Cluster {favourite['favoriteCluster']}"
    )
    liked = browser_page.locator("ul.liked li")
    assert liked.count() > 10
    assert all(float(t.split()[-2]) >= 4.0 for t in _texts(liked))  # user 1 rates 4.37 on average
    screenshot(browser_page, "user")
    assert console.take() == []


PAGES = [
    "/dashboard",
    "/dashboard/clusters",
    "/dashboard/clusters/0",
    "/dashboard/movies?search=toy",
    "/dashboard/movies/1",
    "/dashboard/users",
    "/dashboard/users/1",
    "/dashboard/models",
]


def test_every_page_fits_a_phone_and_its_controls_are_labelled(read_server: Server, page: Page) -> None:
    browser_page, console = page
    browser_page.set_viewport_size({"width": 390, "height": 844})
    for path in PAGES:
        _open(browser_page, f"{read_server.base}{path}")
        assert browser_page.evaluate("document.documentElement.scrollWidth") <= 390, path
        unlabelled = browser_page.evaluate(
            """() => [...document.querySelectorAll('input, select, button, textarea')]
                 .filter(e => e.type !== 'hidden')
                 .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                              && !(e.tagName === 'BUTTON' && e.textContent.trim()))
                 .map(e => e.outerHTML)"""
        )
        assert unlabelled == [], (path, unlabelled)
        assert console.take() == [], path


def test_the_search_is_reachable_and_usable_by_keyboard_alone(read_server: Server, page: Page) -> None:
    browser_page, console = page
    _open(browser_page, f"{read_server.base}/dashboard/movies")
    for _ in range(15):  # skip link, brand, five sections, then the search field
        browser_page.keyboard.press("Tab")
        if browser_page.evaluate("document.activeElement.id") == "search":
            break
    else:
        raise AssertionError("the search field is not reachable with Tab")
    browser_page.keyboard.type("toy story")
    browser_page.keyboard.press("Tab")
    assert browser_page.evaluate("document.activeElement.textContent") == "Search"
    browser_page.keyboard.press("Enter")
    expect(browser_page.locator("td.title").first).to_have_text("Toy Story (1995)")
    assert console.take() == []
