"""Cluster analytics, aggregated in SQL over the active version's assignments."""

from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import bindparam, func, text

from cinecluster.tables import movie_clusters, movie_features, movies
from service.queries.movies import MovieRecord, movie_columns, movies_from, to_record
from service.sql import compile_sql, fetch_all, fetch_value

SUMMARY = compile_sql(
    text(
        """
    WITH mc AS (
        SELECT movie_id, cluster FROM movie_clusters
        WHERE version = :version AND (CAST(:cluster AS int) IS NULL OR cluster = CAST(:cluster AS int))
    ),
    stats AS (
        SELECT mc.cluster, count(*) AS size,
               coalesce(sum(f.rating_count), 0) AS rating_count,
               sum(f.avg_rating * f.rating_count) / nullif(sum(f.rating_count), 0) AS avg_rating
        FROM mc LEFT JOIN movie_features f ON f.movie_id = mc.movie_id
        GROUP BY mc.cluster
    ),
    genre_counts AS (
        SELECT mc.cluster, g.genre, count(*) AS movies,
               row_number() OVER (PARTITION BY mc.cluster ORDER BY count(*) DESC, g.genre) AS rank
        FROM mc JOIN movies m ON m.movie_id = mc.movie_id, unnest(m.genres) AS g(genre)
        GROUP BY mc.cluster, g.genre
    )
    SELECT s.cluster, s.size, s.rating_count, s.avg_rating,
           coalesce(array_agg(gc.genre ORDER BY gc.rank) FILTER (WHERE gc.genre IS NOT NULL), '{}')
               AS genres,
           coalesce(array_agg(gc.movies ORDER BY gc.rank) FILTER (WHERE gc.genre IS NOT NULL), '{}')
               AS genre_movies
    FROM stats s LEFT JOIN genre_counts gc ON gc.cluster = s.cluster AND gc.rank <= :top
    GROUP BY s.cluster, s.size, s.rating_count, s.avg_rating
    ORDER BY s.cluster
    """
    )
)
CLUSTER_SIZE = compile_sql(
    text("SELECT count(*) FROM movie_clusters WHERE version = :version AND cluster = :cluster")
)
CLUSTER_SIZES = compile_sql(
    text(
        "SELECT cluster, count(*) AS movies FROM movie_clusters WHERE version = :version"
        " GROUP BY cluster ORDER BY cluster"
    )
)
SAMPLE = compile_sql(
    text(
        """
    SELECT mc.cluster, f.avg_rating, f.rating_count, f.genre_flags
    FROM movie_clusters mc JOIN movie_features f ON f.movie_id = mc.movie_id
    WHERE mc.version = :version
    ORDER BY hashint4(mc.movie_id), mc.movie_id
    LIMIT :limit
    """
    )
)


@dataclass(frozen=True, slots=True)
class ClusterSummary:
    cluster: int
    size: int
    rating_count: int
    avg_rating: float | None
    top_genres: list[tuple[str, int]]


def cluster_summaries(
    conn: psycopg.Connection, version: int, cluster: int | None = None, top: int = 5
) -> list[ClusterSummary]:
    rows = fetch_all(conn, SUMMARY, {"version": version, "cluster": cluster, "top": top})
    return [
        ClusterSummary(
            r.cluster,
            r.size,
            int(r.rating_count),
            float(r.avg_rating) if r.avg_rating is not None else None,
            list(zip(r.genres, r.genre_movies, strict=True)),
        )
        for r in rows
    ]


SORTS: dict[str, tuple[Any, ...]] = {
    "popularity": (func.coalesce(movie_features.c.rating_count, 0).desc(),),
    "rating": (movie_features.c.avg_rating.desc().nulls_last(),),
    "title": (movies.c.title,),
    "distance": (movie_clusters.c.distance,),
    "movieId": (),
}
CLUSTER_PAGES = {
    sort: compile_sql(
        movie_columns()
        .add_columns(func.count().over().label("total"))
        .select_from(movies_from())
        .where(movie_clusters.c.cluster == bindparam("cluster"))
        .order_by(*keys, movies.c.movie_id)
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
    )
    for sort, keys in SORTS.items()
}


def cluster_movies(
    conn: psycopg.Connection, version: int, cluster: int, *, sort: str, limit: int, offset: int
) -> tuple[int, list[MovieRecord]]:
    """A page of the cluster's movies; `sort` is a key of SORTS, ties by movie id."""
    rows = fetch_all(conn, CLUSTER_PAGES[sort], {"cluster": cluster, "limit": limit, "offset": offset})
    if rows:
        return rows[0].total, [to_record(r) for r in rows]
    return int(fetch_value(conn, CLUSTER_SIZE, {"version": version, "cluster": cluster})), []


def cluster_sizes(conn: psycopg.Connection, version: int) -> list[tuple[int, int]]:
    return [(r.cluster, r.movies) for r in fetch_all(conn, CLUSTER_SIZES, {"version": version})]


def feature_sample(
    conn: psycopg.Connection, version: int, limit: int = 4000
) -> list[tuple[int, float, int, list[int]]]:
    """A deterministic sample of movies' raw features (for the PCA scatter plot)."""
    rows = fetch_all(conn, SAMPLE, {"version": version, "limit": limit})
    return [(r.cluster, r.avg_rating, r.rating_count, list(r.genre_flags)) for r in rows]
