"""Movie lookups and search, each movie with its cluster under the active model."""

from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import ColumnElement, Select, and_, bindparam, func, select, true
from sqlalchemy.sql import FromClause

from cinecluster.tables import active_model, movie_clusters, movie_features, movies
from service.sql import afetch_all, compile_sql, fetch_all, fetch_one, fetch_value


@dataclass(frozen=True, slots=True)
class MovieRecord:
    movie_id: int
    title: str
    year: int | None
    genres: list[str]
    cluster: int | None
    avg_rating: float | None  # None when unrated
    rating_count: int
    version: int | None  # active model version when read
    hidden: bool = False  # never recommended (movies.hidden)


def movie_columns() -> Select[Any]:
    """movies + active cluster + last-run stats, to be used with `movies_from()`."""
    return select(
        movies.c.movie_id,
        movies.c.title,
        movies.c.year,
        movies.c.genres,
        movies.c.hidden,
        movie_clusters.c.cluster,
        movie_features.c.avg_rating,
        func.coalesce(movie_features.c.rating_count, 0).label("rating_count"),
        active_model.c.version,
    )


def movies_from() -> FromClause:
    return (
        movies.outerjoin(active_model, true())
        .outerjoin(
            movie_clusters,
            and_(
                movie_clusters.c.version == active_model.c.version,
                movie_clusters.c.movie_id == movies.c.movie_id,
            ),
        )
        .outerjoin(movie_features, movie_features.c.movie_id == movies.c.movie_id)
    )


def to_record(row: Any) -> MovieRecord:
    count = row.rating_count or 0
    return MovieRecord(
        movie_id=row.movie_id,
        title=row.title,
        year=row.year,
        genres=list(row.genres),
        cluster=row.cluster,
        avg_rating=float(row.avg_rating) if count and row.avg_rating is not None else None,
        rating_count=count,
        version=row.version,
        hidden=row.hidden,
    )


GET_MOVIE = compile_sql(
    movie_columns().select_from(movies_from()).where(movies.c.movie_id == bindparam("movie_id"))
)
MOVIES_BY_IDS = compile_sql(
    movie_columns().select_from(movies_from()).where(movies.c.movie_id == func.any(bindparam("ids")))
)


def get_movie(conn: psycopg.Connection, movie_id: int) -> MovieRecord | None:
    """One movie by primary key (one round trip), or None."""
    row = fetch_one(conn, GET_MOVIE, {"movie_id": movie_id})
    return to_record(row) if row else None


async def aget_movie(conn: psycopg.AsyncConnection, movie_id: int) -> MovieRecord | None:
    """get_movie for `async def` routes."""
    rows = await afetch_all(conn, GET_MOVIE, {"movie_id": movie_id})
    return to_record(rows[0]) if rows else None


def movies_by_ids(conn: psycopg.Connection, movie_ids: list[int]) -> dict[int, MovieRecord]:
    if not movie_ids:
        return {}
    return {r.movie_id: to_record(r) for r in fetch_all(conn, MOVIES_BY_IDS, {"ids": movie_ids})}


def _filters(search: str | None, genre: str | None, cluster: int | None) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if search:
        escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append(movies.c.title.ilike(f"%{escaped}%", escape="\\"))
    if genre:
        where.append(movies.c.genres.any_() == genre)
    if cluster is not None:
        where.append(movie_clusters.c.cluster == cluster)
    return where


def search_movies(
    conn: psycopg.Connection,
    *,
    search: str | None,
    genre: str | None,
    cluster: int | None,
    limit: int,
    offset: int,
) -> tuple[int, list[MovieRecord]]:
    """Title substring (case-insensitive), genre and cluster filters; most rated first."""
    where = _filters(search, genre, cluster)
    stmt = (
        movie_columns()
        .add_columns(func.count().over().label("total"))
        .select_from(movies_from())
        .where(*where)
        .order_by(func.coalesce(movie_features.c.rating_count, 0).desc(), movies.c.movie_id)
        .limit(limit)
        .offset(offset)
    )
    rows = fetch_all(conn, compile_sql(stmt))
    if rows:
        return rows[0].total, [to_record(r) for r in rows]
    # past the end of the results: the window count came back with no rows
    count = select(func.count()).select_from(movies_from()).where(*where)
    return int(fetch_value(conn, compile_sql(count))), []
