"""Writes: new movies (placed on the nearest centroid at once) and batches of ratings."""

import re
from dataclasses import dataclass

import psycopg
from sqlalchemy import Connection, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

from cinecluster.tables import movies
from scheduler.placement import place_movie
from service.sql import afetch_all, compile_sql, fetch_all

_YEAR = re.compile(r"\((\d{4})\)\s*$")


class MovieExists(Exception):
    pass


class NoFreeMovieId(Exception):
    """The highest movie id is already the largest integer the column holds."""


MAX_MOVIE_ID = 2**31 - 1  # movies.movie_id is a PostgreSQL integer


@dataclass(frozen=True, slots=True)
class RatingsResult:
    received: int
    inserted: int
    updated: int


def parse_year(title: str) -> int | None:
    """Like the loader: the trailing '(YYYY)' of a MovieLens title."""
    match = _YEAR.search(title)
    return int(match.group(1)) if match else None


def insert_movie(conn: Connection, movie_id: int | None, title: str, genres: list[str]) -> int:
    """Insert and place the movie in the active version; raises MovieExists on a taken id."""
    if movie_id is None:
        # serialise id assignment between concurrent writers, only for the auto-id case
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('cinecluster.movie_id'))"))
        movie_id = int(conn.execute(select(func.coalesce(func.max(movies.c.movie_id), 0))).scalar_one()) + 1
        if movie_id > MAX_MOVIE_ID:
            raise NoFreeMovieId
    stmt = (
        pg_insert(movies)
        .values(movie_id=movie_id, title=title, year=parse_year(title), genres=genres)
        .on_conflict_do_nothing(index_elements=[movies.c.movie_id])
        .returning(movies.c.movie_id)
    )
    if conn.execute(stmt).scalar_one_or_none() is None:
        raise MovieExists(movie_id)
    place_movie(conn, movie_id)
    return movie_id


SET_HIDDEN = compile_sql(
    text("UPDATE movies SET hidden = :hidden WHERE movie_id = :movie_id RETURNING movie_id")
)


def set_hidden(conn: psycopg.Connection, movie_id: int, hidden: bool) -> bool:
    """Hide a movie from recommendations or show it again; False when there is no such movie."""
    return bool(fetch_all(conn, SET_HIDDEN, {"movie_id": movie_id, "hidden": hidden}))


UNKNOWN_MOVIES = compile_sql(
    text(
        "SELECT DISTINCT c.id FROM unnest(CAST(:ids AS integer[])) AS c(id) "
        "WHERE NOT EXISTS (SELECT 1 FROM movies m WHERE m.movie_id = c.id) ORDER BY c.id"
    )
)


class UnknownMovies(Exception):
    def __init__(self, movie_ids: list[int]) -> None:
        super().__init__(movie_ids)
        self.movie_ids = movie_ids


UPSERT = compile_sql(
    text(
        """
    WITH batch AS (
        SELECT DISTINCT ON (user_id, movie_id) user_id, movie_id, rating, ts
        FROM unnest(CAST(:users AS integer[]), CAST(:movies AS integer[]), CAST(:ratings AS real[]),
                    CAST(:ts AS float8[]), CAST(:ord AS integer[]))
             AS b(user_id, movie_id, rating, epoch, ord)
        CROSS JOIN LATERAL (SELECT coalesce(to_timestamp(b.epoch), now()) AS ts) t
        ORDER BY user_id, movie_id, ts DESC, ord DESC
    )
    INSERT INTO ratings AS r (user_id, movie_id, rating, ts)
    SELECT user_id, movie_id, rating, ts FROM batch
    ON CONFLICT (user_id, movie_id) DO UPDATE SET rating = excluded.rating, ts = excluded.ts
        WHERE excluded.ts >= r.ts
    RETURNING (xmax = 0) AS inserted
    """
    )
)


async def upsert_ratings(
    conn: psycopg.AsyncConnection, rows: list[tuple[int, int, float, int | None]]
) -> RatingsResult:
    """Like the loader's append mode: a duplicate (user, movie) keeps the latest timestamp.

    One statement on an autocommit connection, so all or nothing without BEGIN/COMMIT round
    trips; a movie that does not exist fails the ratings' foreign key, and only then are the
    unknown ids looked up (UnknownMovies)."""
    users, movie_ids, stars, ts = (list(col) for col in zip(*rows, strict=True))
    params = {
        "users": users,
        "movies": movie_ids,
        "ratings": stars,
        "ts": [float(t) if t is not None else None for t in ts],
        "ord": list(range(len(rows))),
    }
    try:
        result = await afetch_all(conn, UPSERT, params)
    except psycopg.errors.ForeignKeyViolation:
        unknown = [r.id for r in await afetch_all(conn, UNKNOWN_MOVIES, {"ids": movie_ids})]
        raise UnknownMovies(unknown) from None
    inserted = sum(1 for r in result if r.inserted)
    return RatingsResult(received=len(rows), inserted=inserted, updated=len(result) - inserted)
