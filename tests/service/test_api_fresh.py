"""A user who rated since their row was stored is ranked by the API with the active version's
item model (service/recommenders/fresh.py): the row the refresh would store, so every page
equals the stored list for unchanged users and the live SQL ranking for changed ones; while a
model is being loaded, the live SQL serves instead of waiting."""

from collections.abc import Iterator

import pytest
from api_helpers import auth
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from service.recommenders import ListRequest, ease
from service.recommenders.fresh import MODELS
from service.recommenders.weighted import STORED
from service.sql import fetch_all


@pytest.fixture(autouse=True)
def no_models_held() -> Iterator[None]:
    """Each test starts with no model in this process (databases of other tests share names)."""
    MODELS.clear()
    yield
    MODELS.clear()


def _version(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT version FROM active_model")).scalar_one())


def _users(engine: Engine, count: int) -> list[int]:
    """Light to heavy raters, spread over the users with a stored list."""
    with engine.connect() as conn:
        users = (
            conn.execute(
                text(
                    "SELECT user_id FROM user_recommendations u"
                    " WHERE cardinality(movie_ids) > 40 ORDER BY (SELECT count(*) FROM ratings r"
                    " WHERE r.user_id = u.user_id), user_id"
                )
            )
            .scalars()
            .all()
        )
    assert len(users) >= count
    return [users[i * (len(users) - 1) // (count - 1)] for i in range(count)]


def _fresh(engine: Engine, user_id: int, version: int, **page):  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return ease.fresh(conn, user_id, version=version, **page)


def _live(engine: Engine, user_id: int, version: int, **page):  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return ease.RANKING.live(conn, user_id, ListRequest(version=version, **page))


def test_ranked_now_equals_the_stored_list_for_every_user(read_engine: Engine) -> None:
    version = _version(read_engine)
    with read_engine.connect() as conn:
        users = conn.execute(text("SELECT DISTINCT user_id FROM ratings ORDER BY 1")).scalars().all()
        compared = 0
        for user in users:
            page = {"user_id": user, "version": version, "genre": None, "n": 100, "offset": 0}
            stored = ease.RANKING.rows(fetch_all(conn, STORED[False], page))
            n = len(stored)
            if n == 0:
                continue
            fresh = ease.fresh(conn, user, version=version, n=n, offset=0, genre=None)
            assert fresh == stored, user
            compared += 1
    assert compared > 0.9 * len(users) > 0


@pytest.mark.parametrize(
    "page",
    [
        {"n": 10, "offset": 0, "genre": None},
        {"n": 5, "offset": 7, "genre": None},
        {"n": 5, "offset": 0, "genre": "Comedy"},
    ],
)
def test_after_a_rating_the_api_serves_the_models_ranking_equal_to_the_live_sql(
    writable: tuple[TestClient, Engine], page: dict
) -> None:
    client, engine = writable
    version = _version(engine)
    users = _users(engine, 4)
    for user in users:
        before = client.get(f"/recommend/user/{user}", params={"n": 10}).json()
        top = before[0]["movieId"]
        rated = client.post(
            "/ratings", json=[{"userId": user, "movieId": top, "rating": 5.0}], headers=auth()
        )
        assert rated.status_code == 201, rated.text

        served = client.get(
            f"/recommend/user/{user}", params={k: v for k, v in page.items() if v is not None}
        )
        assert served.status_code == 200
        ids = [i["movieId"] for i in served.json()]
        live = _live(engine, user, version, **page)
        assert ids == [r.movie_id for r in live], user
        assert [i["reason"] for i in served.json()] == [r.reason for r in live], user
        assert top not in ids  # the rated movie never comes back
    assert MODELS.held() == [version]  # the model path served them, not the SQL


def test_exclude_and_hidden_movies_leave_the_page_as_in_sql(writable: tuple[TestClient, Engine]) -> None:
    client, engine = writable
    version = _version(engine)
    user = _users(engine, 2)[1]
    stored = client.get(f"/recommend/user/{user}", params={"n": 10}).json()
    assert (
        client.post(
            "/ratings",
            json=[{"userId": user, "movieId": stored[0]["movieId"], "rating": 4.0}],
            headers=auth(),
        ).status_code
        == 201
    )
    with engine.begin() as conn:  # hide the user's next best movie
        conn.execute(text("UPDATE movies SET hidden = true WHERE movie_id = :m"), {"m": stored[1]["movieId"]})
    exclude = [stored[2]["movieId"], stored[3]["movieId"]]
    page = {"n": 10, "offset": 0, "genre": None, "exclude": exclude}
    fresh = _fresh(engine, user, version, **page)
    assert fresh is not None
    assert fresh == _live(engine, user, version, **page)
    ids = {r.movie_id for r in fresh}
    assert not ids & {stored[0]["movieId"], stored[1]["movieId"], *exclude}


def test_while_a_model_loads_the_live_sql_serves(writable: tuple[TestClient, Engine]) -> None:
    client, engine = writable
    version = _version(engine)
    user = _users(engine, 2)[0]
    movie = client.get(f"/recommend/user/{user}", params={"n": 1}).json()[0]["movieId"]
    client.post("/ratings", json=[{"userId": user, "movieId": movie, "rating": 5.0}], headers=auth())
    with MODELS.loading():  # as if another request were loading it
        served = client.get(f"/recommend/user/{user}", params={"n": 10})
        assert served.status_code == 200
        assert [i["movieId"] for i in served.json()] == [
            r.movie_id for r in _live(engine, user, version, n=10, offset=0, genre=None)
        ]
        assert MODELS.held() == []  # nobody waited for it, nobody loaded it twice
    client.get(f"/recommend/user/{user}", params={"n": 10})
    assert MODELS.held() == [version]
