"""The default ranking stored by the recluster run (user_recommendations) and the live SQL
ranking give the same pages; a stored list stops being served the moment the user's ratings
change (user_rating_changes, kept by triggers; revision 0006), even during the run."""

import pytest
from api_helpers import auth
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text

from loaders.load import load_files
from ranking import LIST_LENGTH
from scheduler.job import run_recluster
from scheduler.steps import default_write_steps
from service.recommenders import ease
from service.recommenders.types import ListRequest, Recommendation
from service.recommenders.weighted import STORED
from service.sql import fetch_all

# figures of ml-latest-small itself (counts, user and movie ids, titles)
pytestmark = pytest.mark.real_sample


def _version(conn) -> int:  # type: ignore[no-untyped-def]
    return int(conn.execute(text("SELECT version FROM active_model")).scalar_one())


def _stored(conn, user_id: int, version: int, *, n: int, offset: int = 0, genre: str | None = None):  # type: ignore[no-untyped-def]
    """The stored path alone (no fallback): what the API serves while the list is current."""
    page = {"user_id": user_id, "version": version, "genre": genre, "n": n, "offset": offset}
    return ease.RANKING.rows(fetch_all(conn, STORED[genre is not None], page))


def _live(conn, user_id: int, version: int, **page) -> list[Recommendation]:  # type: ignore[no-untyped-def]
    return ease.RANKING.live(conn, user_id, ListRequest(version=version, **page))


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
        assert _stored(conn, 1, version, n=10) == []  # user 1 changed after the run's snapshot
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


def _unrated_movie(conn, user_id: int) -> int:  # type: ignore[no-untyped-def]
    return int(
        conn.execute(
            text(
                "SELECT min(movie_id) FROM movie_features WHERE rating_count > 0 AND movie_id NOT IN"
                " (SELECT movie_id FROM ratings WHERE user_id = :u)"
            ),
            {"u": user_id},
        ).scalar_one()
    )


def _api_equals_live(client: TestClient, conn, user_id: int, version: int) -> None:  # type: ignore[no-untyped-def]
    items = client.get(f"/recommend/user/{user_id}", params={"n": 10}).json()
    live = _live(conn, user_id, version, n=10, offset=0, genre=None)
    assert [i["movieId"] for i in items] == [r.movie_id for r in live]


def test_sql_inserts_and_deletes_retire_exactly_those_users_lists(
    writable: tuple[TestClient, Engine],
) -> None:
    """A DB admin's INSERT and DELETE (not the API) retire the lists of the users they touch."""
    client, engine = writable
    with engine.begin() as conn:
        version = _version(conn)
        conn.execute(
            text("INSERT INTO ratings (user_id, movie_id, rating, ts) VALUES (68, :m, 4.0, now())"),
            {"m": _unrated_movie(conn, 68)},
        )
        conn.execute(
            text(
                "DELETE FROM ratings WHERE user_id = 414"
                " AND movie_id = (SELECT min(movie_id) FROM ratings WHERE user_id = 414)"
            )
        )
    with engine.connect() as conn:
        assert _stored(conn, 68, version, n=5) == [] and _stored(conn, 414, version, n=5) == []
        assert len(_stored(conn, 599, version, n=5)) == 5  # untouched users keep theirs
        for user in (68, 414):
            _api_equals_live(client, conn, user, version)


def test_a_rating_committed_while_the_run_ranks_users_is_not_served_stale(
    writable: tuple[TestClient, Engine],
) -> None:
    """The run reads the ratings, ranks, writes, commits: a rating committed in between is in no
    stored list, and the triggers' change note has nothing to retire yet (the rows are not
    committed). The version's snapshot makes the list not current all the same."""
    client, engine = writable

    def rate_meanwhile(conn, context) -> None:  # type: ignore[no-untyped-def]
        with engine.begin() as other:  # after user_lists_step, in another transaction
            other.execute(
                text("INSERT INTO ratings (user_id, movie_id, rating, ts) VALUES (1, :m, 5.0, now())"),
                {"m": _unrated_movie(other, 1)},
            )

    version = run_recluster(engine, write_steps=[*default_write_steps(), rate_meanwhile]).version
    with engine.connect() as conn:
        assert _version(conn) == version
        written = "SELECT count(*) FROM user_recommendations WHERE version = :v AND user_id = :u"
        assert conn.execute(text(written), {"v": version, "u": 1}).scalar_one() == 1
        assert _stored(conn, 1, version, n=5) == []  # written, but not current
        assert len(_stored(conn, 2, version, n=5)) == 5
        _api_equals_live(client, conn, 1, version)


def test_change_notes_are_kept_while_a_kept_version_predates_them(clustered_db_url: str) -> None:
    engine = create_engine(clustered_db_url)
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO ratings (user_id, movie_id, rating, ts) VALUES (1, :m, 4.5, now())"),
            {"m": _unrated_movie(conn, 1)},
        )
    notes = "SELECT array_agg(user_id) FROM user_rating_changes"
    second = run_recluster(engine, keep=2).version  # version 1 is kept: its list of user 1 is stale
    with engine.connect() as conn:
        assert conn.execute(text(notes)).scalar_one() == [1]
        assert _stored(conn, 1, 1, n=5) == [] and len(_stored(conn, 1, second, n=5)) == 5
    third = run_recluster(engine, keep=1).version  # every kept version has seen the change
    with engine.connect() as conn:
        assert conn.execute(text(notes)).scalar_one() is None
        assert len(_stored(conn, 1, third, n=5)) == 5
    engine.dispose()


def test_a_replace_load_retires_every_list_and_an_unchanged_append_none(
    clustered_db_url: str, sample_data
) -> None:  # type: ignore[no-untyped-def]
    engine = create_engine(clustered_db_url)
    stored = "SELECT count(*) FROM user_recommendations"
    ratings = {"ratings": sample_data / "ratings.csv"}
    try:
        load_files(engine, ratings, mode="append")  # the same ratings again: nothing changes
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM user_rating_changes")).scalar_one() == 0
            assert conn.execute(text(stored)).scalar_one() == 610
        load_files(engine, ratings, mode="replace")
        with engine.begin() as conn:
            assert conn.execute(text(stored)).scalar_one() == 0  # TRUNCATE ratings -> trigger
            assert conn.execute(text("SELECT count(*) FROM ratings")).scalar_one() == 100_836
            # the load switched change notes off for its own rows only: they are on again
            conn.execute(
                text("INSERT INTO ratings (user_id, movie_id, rating, ts) VALUES (7, :m, 3.0, now())"),
                {"m": _unrated_movie(conn, 7)},
            )
            assert conn.execute(text("SELECT array_agg(user_id) FROM user_rating_changes")).scalar_one() == [
                7
            ]
    finally:
        engine.dispose()


def test_similar_movies_hot_path_equals_the_full_path(client: TestClient, read_engine: Engine) -> None:
    """/recommend/movie answers in one statement (the item model's positive weights, then the
    nearest in-cluster); its pages equal the three-query path's: across the end of a weight
    list, for movies whose list is shorter than the page, for movies that have none (outside
    the model: few or no likes), and with a genre filter."""
    with read_engine.connect() as conn:
        version = _version(conn)

        # movie -> length of its list of positive weights: 15 without one, the 15 shortest lists
        lengths = dict(
            conn.execute(
                text(
                    "SELECT m.movie_id, count(n.rank) FROM movies m LEFT JOIN item_weights n"
                    " ON n.version = :v AND n.movie_id = m.movie_id AND n.weight > 0"
                    " GROUP BY m.movie_id ORDER BY count(n.rank) = 0 DESC, 2, 1"
                ),
                {"v": version},
            ).all()
        )
        none = [m for m, length in lengths.items() if length == 0][:15]
        short = [m for m, length in lengths.items() if length > 0][:15]
        assert len(none) == 15 and len(short) == 15
        for movie_id in [1, *none, *short]:
            cluster = conn.execute(
                text("SELECT cluster FROM movie_clusters WHERE version = :v AND movie_id = :m"),
                {"v": version, "m": movie_id},
            ).scalar_one()
            across_the_end = max(lengths[movie_id] - 2, 0)
            for n, offset, genre in ((5, 0, None), (10, 3, None), (5, across_the_end, None), (5, 0, "Drama")):
                full = ease.similar(conn, movie_id, cluster, ListRequest(n, offset, genre, version))
                params = {"n": n, "offset": offset} | ({"genre": genre} if genre else {})
                items = client.get(f"/recommend/movie/{movie_id}", params=params).json()
                assert [(i["movieId"], i["reason"], i["score"]) for i in items] == [
                    (r.movie_id, r.reason, r.score) for r in full
                ], movie_id
