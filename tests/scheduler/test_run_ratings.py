"""The run's one read of the ratings (scheduler/ratings.py) gives what the per-step reads gave:
the ranking's order (newest first, then movie id) and the item-kNN table's (whole seconds, then
movie id), sub-second times and movies added since the features included."""

from datetime import UTC, datetime, timedelta

import numpy as np
from recluster_factories import make_movie
from sqlalchemy import Engine, insert

from cinecluster.tables import ratings
from ranking.users import ratings_from
from scheduler.ratings import fetch_ratings

START = datetime(2020, 1, 1, tzinfo=UTC)


def test_one_read_orders_like_the_ranking_and_like_the_table(engine: Engine) -> None:
    rows = [  # user, movie, stars, microseconds after START
        (1, 5, 4.0, 2_000_000),
        (1, 3, 3.5, 2_500_000),  # same second as movie 5, later: first for the ranking, not the table
        (1, 9, 2.0, 1_000_000),
        (2, 3, 5.0, 7_000_000),
        (2, 5, 1.0, 7_000_000),  # same instant: the higher movie id first, in both orders
        (3, 7, 4.5, 0),  # movie 7: no features in this version (added since)
    ]
    with engine.begin() as conn:
        for movie_id in (3, 5, 7, 9):
            make_movie(conn, movie_id)
        for user, movie, stars, micros in rows:
            ts = START + timedelta(microseconds=micros)
            conn.execute(insert(ratings).values(user_id=user, movie_id=movie, rating=stars, ts=ts))
    ids = np.array([3, 5, 9])
    with engine.connect() as conn:
        run = fetch_ratings(conn, ids)
    columns = {
        "user": np.array([r[0] for r in rows]),
        "movie": np.array([r[1] for r in rows]),
        "half_stars": np.array([int(r[2] * 2) for r in rows]),
        "micros": np.array([r[3] for r in rows]),
    }
    expected = ratings_from(columns, ids, "")
    for field in ("user", "movie", "half_stars", "starts", "stale"):
        assert getattr(run.ratings, field).tolist() == getattr(expected, field).tolist(), field
    assert run.ratings.users.tolist() == [1, 2, 3]
    assert run.known is not None and run.known.tolist() == [True, True, True, True, True, False]
    # by whole seconds then movie id: user 1's movies 5, 3 (one second), then 9
    order = run.by_seconds
    assert order is not None
    assert ids[run.ratings.movie[order]][:3].tolist() == [5, 3, 9]
    assert ids[run.ratings.movie][:3].tolist() == [3, 5, 9]
