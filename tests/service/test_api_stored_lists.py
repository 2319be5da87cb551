"""The default ranking stored by the recluster run (user_recommendations) and the live SQL
ranking give the same pages; a stored list stops being served the moment the user rates."""

import pytest
from api_helpers import auth
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from cinecluster.ranking import LIST_LENGTH
from service.recommenders import liked_neighbours
from service.recommenders.types import Recommendation
from service.sql import fetch_all


def _version(conn) -> int:  # type: ignore[no-untyped-def]
    return int(conn.execute(text("SELECT version FROM active_model")).scalar_one())


def _stored(conn, user_id: int, version: int, *, n: int, offset: int = 0, genre: str | None = None):  # type: ignore[no-untyped-def]
    """The stored path alone (no fallback): what the API serves while the list is current."""
    page = {"user_id": user_id, "version": version, "genre": genre, "n": n, "offset": offset}
    return liked_neighbours.ranked(fetch_all(conn, liked_neighbours.STORED, page))


def _live(conn, user_id: int, version: int, **page) -> list[Recommendation]:  # type: ignore[no-untyped-def]
    return liked_neighbours.live(conn, user_id, version=version, **page)


def test_every_user_has_a_stored_list_equal_to_the_live_ranking(read_engine: Engine) -> None:
    with read_engine.connect() as conn:
        version = _version(conn)
        users = conn.execute(text("SELECT DISTINCT user_id FROM ratings ORDER BY 1")).scalars().all()
        stored_users = conn.execute(
            text("SELECT count(*) FROM user_recommendations WHERE version = :v"), {"v": version}
        ).scalar_one()
        assert stored_users == len(users) == 610
        for user in users:
            stored = _stored(conn, user, version, n=LIST_LENGTH)
            live = _live(conn, user, version, n=len(stored), offset=0, genre=None)
            assert len(stored) >= 10, user
            assert stored == live, user


@pytest.mark.parametrize(("genre", "offset", "n"), [("Comedy", 0, 10), ("Drama", 7, 5), (None, 40, 20)])
def test_genre_filter_and_paging_agree_too(
    read_engine: Engine, genre: str | None, offset: int, n: int
) -> None:
    with read_engine.connect() as conn:
        version = _version(conn)
        for user in (1, 68, 414, 599):  # light to heavy raters
            stored = _stored(conn, user, version, n=n, offset=offset, genre=genre)
            assert len(stored) == n
            assert stored == _live(conn, user, version, n=n, offset=offset, genre=genre)
            if genre:
                assert all(genre in r.genres for r in stored)


def test_the_api_serves_the_stored_list(client: TestClient, read_engine: Engine) -> None:
    with read_engine.connect() as conn:
        version = _version(conn)
        stored = _stored(conn, 1, version, n=10)
    items = client.get("/recommend/user/1", params={"n": 10}).json()
    assert [i["movieId"] for i in items] == [r.movie_id for r in stored]
    assert [i["reason"] for i in items] == [r.reason for r in stored]


def test_a_new_rating_retires_the_stored_list_at_once(writable: tuple[TestClient, Engine]) -> None:
    client, engine = writable
    before = client.get("/recommend/user/1", params={"n": 10}).json()
    top = before[0]["movieId"]
    with engine.connect() as conn:
        version = _version(conn)
        assert len(_stored(conn, 1, version, n=10)) == 10
    assert (
        client.post(
            "/ratings", json=[{"userId": 1, "movieId": top, "rating": 5.0}], headers=auth()
        ).status_code
        == 201
    )
    after = client.get("/recommend/user/1", params={"n": 10}).json()
    assert top not in {i["movieId"] for i in after}
    with engine.connect() as conn:
        assert _stored(conn, 1, version, n=10) == []  # the fingerprint no longer matches
        live = _live(conn, 1, version, n=10, offset=0, genre=None)
    assert [i["movieId"] for i in after] == [r.movie_id for r in live]


def test_a_changed_rating_value_also_retires_it(writable: tuple[TestClient, Engine]) -> None:
    client, engine = writable
    with engine.connect() as conn:
        version = _version(conn)
        movie, rating = conn.execute(
            text("SELECT movie_id, rating FROM ratings WHERE user_id = 1 ORDER BY movie_id LIMIT 1")
        ).one()
        assert _stored(conn, 1, version, n=5)
    with engine.begin() as conn:  # a DB admin's UPDATE, not the API: same count, other value
        conn.execute(
            text("UPDATE ratings SET rating = :r WHERE user_id = 1 AND movie_id = :m"),
            {"r": 1.0 if rating > 1 else 2.0, "m": movie},
        )
    with engine.connect() as conn:
        assert _stored(conn, 1, version, n=5) == []
    assert len(client.get("/recommend/user/1", params={"n": 5}).json()) == 5


def test_similar_movies_hot_path_equals_the_full_path(client: TestClient, read_engine: Engine) -> None:
    """/recommend/movie answers in one statement (co-rating list, then nearest in-cluster);
    its pages equal the three-query path's: across the end of a co-rating list, for movies
    whose list is shorter than the page, for movies that have none (nobody liked them), and
    with a genre filter."""
    with read_engine.connect() as conn:
        version = _version(conn)

        def movies_with_co_rating_lists(low: int, high: int) -> list[int]:
            return list(
                conn.execute(
                    text(
                        "SELECT m.movie_id FROM movies m LEFT JOIN item_neighbours n"
                        " ON n.version = :v AND n.movie_id = m.movie_id"
                        " GROUP BY m.movie_id HAVING count(n.rank) BETWEEN :low AND :high"
                        " ORDER BY 1 LIMIT 15"
                    ),
                    {"v": version, "low": low, "high": high},
                ).scalars()
            )

        none, short = movies_with_co_rating_lists(0, 0), movies_with_co_rating_lists(1, 49)
        assert len(none) == 15 and len(short) == 15
        for movie_id in [1, *none, *short]:
            cluster = conn.execute(
                text("SELECT cluster FROM movie_clusters WHERE version = :v AND movie_id = :m"),
                {"v": version, "m": movie_id},
            ).scalar_one()
            for n, offset, genre in ((5, 0, None), (10, 3, None), (5, 48, None), (5, 0, "Drama")):
                full = liked_neighbours.similar(
                    conn, movie_id, cluster=cluster, n=n, offset=offset, genre=genre, version=version
                )
                params = {"n": n, "offset": offset} | ({"genre": genre} if genre else {})
                items = client.get(f"/recommend/movie/{movie_id}", params=params).json()
                assert [(i["movieId"], i["reason"], i["score"]) for i in items] == [
                    (r.movie_id, r.reason, r.score) for r in full
                ], movie_id
