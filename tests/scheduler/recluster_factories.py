"""Small typed factories: tiny catalogues inserted straight into a test database."""

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, insert

from cinecluster.tables import movies, ratings

GENRES = ("Action", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi", "Animation", "Children")


def make_movie(
    conn: Connection,
    movie_id: int,
    *,
    title: str | None = None,
    genres: Sequence[str] = ("Drama",),
    year: int | None = 1999,
) -> int:
    conn.execute(
        insert(movies).values(
            movie_id=movie_id, title=title or f"Movie {movie_id} ({year})", year=year, genres=list(genres)
        )
    )
    return movie_id


def make_rating(conn: Connection, user_id: int, movie_id: int, rating: float, *, day: int = 0) -> None:
    ts = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(days=day)
    conn.execute(insert(ratings).values(user_id=user_id, movie_id=movie_id, rating=rating, ts=ts))


def make_catalogue(engine: Engine, *, n_movies: int = 80, n_users: int = 40, seed: int = 7) -> list[int]:
    """Random movies (some unrated, some without genres) and ratings; returns the movie ids."""
    rng = random.Random(seed)
    ids = list(range(1, n_movies + 1))
    with engine.begin() as conn:
        for movie_id in ids:
            genres = [] if movie_id % 17 == 0 else rng.sample(GENRES, rng.randint(1, 3))
            make_movie(conn, movie_id, genres=genres, year=rng.choice([None, 1980, 1995, 2010]))
        for user in range(1, n_users + 1):
            for movie_id in rng.sample(ids[: int(n_movies * 0.9)], rng.randint(3, 25)):
                make_rating(conn, user, movie_id, rng.randint(1, 10) / 2, day=rng.randint(0, 900))
    return ids
