"""Hidden movies: PATCH /movies/{id} {"hidden": true} (admin) takes a movie out of every list at
once -- every route and strategy, stored lists included, no recluster -- exactly as if every
request excluded it; the movie keeps its pages and its ratings keep training the model."""

from typing import Any

import pytest
from api_helpers import TOKEN, api_client, auth
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from scheduler.job import run_recluster
from service.recommenders import MOVIE_STRATEGIES, STRATEGIES

USERS = (1, 414)


def _hide(client: TestClient, movie_id: int, hidden: bool = True) -> dict[str, Any]:
    response = client.patch(f"/movies/{movie_id}", json={"hidden": hidden}, headers=auth())
    assert response.status_code == 200, response.text
    return response.json()


def _ids(items: list[dict[str, Any]]) -> list[int]:
    return [i["movieId"] for i in items]


def _lists(client: TestClient, exclude: str | None = None) -> dict[str, Any]:
    """Every list the API answers, for a few users and movies, with `exclude` when given."""
    extra = {"exclude": exclude} if exclude else {}
    answers: dict[str, Any] = {}
    for user in USERS:
        for strategy in STRATEGIES:
            params = {"n": 30, "strategy": strategy, "seed": 1, **extra}
            answers[f"user {user} {strategy}"] = client.get(f"/recommend/user/{user}", params=params).json()
        answers[f"user {user} Drama"] = client.get(
            f"/recommend/user/{user}", params={"n": 10, "genre": "Drama", **extra}
        ).json()
    for strategy in MOVIE_STRATEGIES:
        for n in (10, 80):  # 80 runs past the item lists into the in-cluster fill
            params = {"n": n, "strategy": strategy, "seed": 1, **extra}
            answers[f"movie 1 {strategy} {n}"] = client.get("/recommend/movie/1", params=params).json()
    answers["session"] = client.post(
        "/recommend/session", params={"n": 20, **extra}, json={"movieIds": [1, 2571]}
    ).json()
    answers["users"] = client.post(
        "/recommend/users", params={"n": 10, **extra}, json={"userIds": list(USERS)}
    ).json()
    answers["popular"] = client.get(
        "/recommend/user/999999999", params={"fallback": "popular", "n": 10, **extra}
    ).json()
    return answers


@pytest.mark.real_sample  # ids of ml-latest-small's own users and movies
def test_a_hidden_movie_leaves_every_list_as_if_each_request_excluded_it(
    writable: tuple[TestClient, Engine],
) -> None:
    client, _ = writable
    before = _lists(client)
    # one movie from the top of several lists: the stored ease list, the cluster strategy,
    # a similar-movies list, and the most rated movie (the popular list's first)
    hidden = sorted(
        {
            before["user 1 ease"][0]["movieId"],
            before["user 414 cluster"][1]["movieId"],
            before["movie 1 ease 10"][0]["movieId"],
            before["movie 1 neighbours 10"][2]["movieId"],
            before["popular"][0]["movieId"],
        }
    )
    expected = _lists(client, exclude=",".join(map(str, hidden)))
    for movie in hidden:
        assert _hide(client, movie)["hidden"] is True
    after = _lists(client)
    for name, items in after.items():
        assert items == expected[name], name
    listed = {m for items in after.values() if isinstance(items, list) for m in _ids(items)}
    listed |= {m for items in after["users"]["users"].values() for m in _ids(items)}
    assert not listed & set(hidden)
    assert after["user 1 ease"] != before["user 1 ease"]

    for movie in hidden:  # shown again: every list as before
        assert _hide(client, movie, hidden=False)["hidden"] is False
    assert _lists(client) == before


def test_a_hidden_movie_keeps_its_pages_and_its_place_in_training(
    writable: tuple[TestClient, Engine],
) -> None:
    client, engine = writable
    top = client.get("/recommend/user/1", params={"n": 1}).json()[0]["movieId"]
    _hide(client, top)
    movie = client.get(f"/movie/{top}")
    assert movie.status_code == 200 and movie.json()["hidden"] is True
    assert client.get(f"/recommend/movie/{top}", params={"n": 5}).status_code == 200  # its own similar list
    found = client.get("/movies", params={"search": movie.json()["title"][:12]}).json()["items"]
    assert any(m["movieId"] == top and m["hidden"] for m in found)
    page = client.get(f"/dashboard/movies/{top}")
    assert page.status_code == 200 and "Hidden from recommendations" in page.text

    version = run_recluster(engine).version  # its ratings still count: features, the item model
    with engine.connect() as conn:
        count = conn.execute(text("SELECT rating_count FROM movie_features WHERE movie_id = :m"), {"m": top})
        assert count.scalar_one() > 0
        weights = conn.execute(
            text(
                "SELECT count(*) FROM item_weights WHERE version = :v"
                " AND (movie_id = :m OR neighbour_id = :m)"
            ),
            {"v": version, "m": top},
        ).scalar_one()
        assert weights > 0
    assert top not in _ids(
        client.get("/recommend/user/1", params={"n": 100}).json()
    )  # the new version's lists too
    assert client.get(f"/movie/{top}").json()["hidden"] is True


def test_the_export_leaves_hidden_movies_out(writable: tuple[TestClient, Engine], tmp_path) -> None:  # type: ignore[no-untyped-def]
    import csv
    import io

    from scheduler.export_lists import write_csv

    client, engine = writable
    top = client.get("/recommend/user/1", params={"n": 100}).json()
    _hide(client, top[0]["movieId"])
    out = io.BytesIO()
    with engine.connect() as conn:
        write_csv(conn, out)
    rows = [r for r in csv.DictReader(io.StringIO(out.getvalue().decode())) if r["userId"] == "1"]
    assert [int(r["movieId"]) for r in rows] == _ids(top[1:])
    assert [int(r["rank"]) for r in rows] == list(range(1, len(top)))


@pytest.mark.parametrize(
    ("headers", "status", "error"),
    [({}, 401, "Missing bearer token"), (auth("wrong"), 403, "Invalid token")],
)
def test_hiding_needs_the_admin_token(
    writable: tuple[TestClient, Engine], headers: dict[str, str], status: int, error: str
) -> None:
    client, engine = writable
    response = client.patch("/movies/1", json={"hidden": True}, headers=headers)
    assert (response.status_code, response.json()["error"]) == (status, error)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM movies WHERE hidden")).scalar_one() == 0


def test_writes_disabled_refuse_it(clustered_db_url: str) -> None:
    with api_client(clustered_db_url) as client:  # no token configured on the server
        response = client.patch("/movies/1", json={"hidden": True}, headers=auth(TOKEN))
    assert (response.status_code, response.json()["error"]) == (403, "Writes are disabled")


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        ("/movies/999999999", {"hidden": True}, 404, "Movie not found"),
        ("/movies/1", {"hidden": "yes"}, 422, "Input should be a valid boolean"),
        ("/movies/1", {"hidden": 1}, 422, "Input should be a valid boolean"),
        ("/movies/1", {}, 422, "Field required"),
        ("/movies/1", {"hidden": True, "title": "x"}, 422, "Extra inputs are not permitted"),
        ("/movies/0", {"hidden": True}, 422, "greater than or equal to 1"),
    ],
)
def test_bad_requests_are_a_clear_4xx_and_change_nothing(
    writable: tuple[TestClient, Engine], path: str, body: object, status: int, message: str
) -> None:
    client, engine = writable
    response = client.patch(path, json=body, headers=auth())
    assert response.status_code == status, response.text
    assert message in str(response.json())
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM movies WHERE hidden")).scalar_one() == 0


@pytest.mark.parametrize("mode", ["append", "replace"])
def test_loading_the_movies_again_keeps_them_hidden(
    writable: tuple[TestClient, Engine], sample_data, mode: str
) -> None:  # type: ignore[no-untyped-def]
    from loaders.load import load_files

    client, engine = writable
    _hide(client, 1)
    load_files(engine, {"movies": sample_data / "movies.csv"}, mode=mode)
    assert client.get("/movie/1").json()["hidden"] is True
