"""`random`: the data team's method, a random sample of the favourite cluster.

Favourite = the cluster holding most of the user's rated movies (ties: lowest id), as in
their get_favorite_cluster. Unlike their draft, movies the user rated are excluded (the API
never recommends a seen movie). The order is a hash of (movie id, seed): pass `seed` to
reproduce a sample; without it each request draws a fresh seed.
"""

import secrets

from sqlalchemy import text

from service.recommenders.types import Recommendation
from service.sql import DbConnection, compile_sql, fetch_all

FAVOURITE_SAMPLE = compile_sql(
    text(
        """
    WITH fav AS (
        SELECT mc.cluster
        FROM ratings r
        JOIN movie_clusters mc ON mc.version = :version AND mc.movie_id = r.movie_id
        WHERE r.user_id = :user_id
        GROUP BY mc.cluster
        ORDER BY count(*) DESC, mc.cluster
        LIMIT 1
    )
    SELECT m.movie_id, m.title, m.genres, mc.cluster
    FROM fav
    JOIN movie_clusters mc ON mc.version = :version AND mc.cluster = fav.cluster
    JOIN movies m ON m.movie_id = mc.movie_id
    WHERE NOT EXISTS (SELECT 1 FROM ratings r WHERE r.user_id = :user_id AND r.movie_id = m.movie_id)
      AND (CAST(:genre AS text) IS NULL OR CAST(:genre AS text) = ANY (m.genres))
    ORDER BY hashint4extended(m.movie_id, :seed), m.movie_id
    LIMIT :n OFFSET :offset
    """
    ),
    prepare=False,
)

CLUSTER_SAMPLE = compile_sql(
    text(
        """
    SELECT m.movie_id, m.title, m.genres, mc.cluster
    FROM movie_clusters mc
    JOIN movies m ON m.movie_id = mc.movie_id
    WHERE mc.version = :version AND mc.cluster = :cluster AND mc.movie_id <> :movie_id
      AND (CAST(:genre AS text) IS NULL OR CAST(:genre AS text) = ANY (m.genres))
    ORDER BY hashint4extended(m.movie_id, :seed), m.movie_id
    LIMIT :n OFFSET :offset
    """
    ),
    prepare=False,
)


def _seed(seed: int | None) -> int:
    return seed if seed is not None else secrets.randbits(62)


def recommend(
    conn: DbConnection,
    user_id: int,
    *,
    n: int,
    offset: int,
    genre: str | None,
    version: int,
    seed: int | None = None,
) -> list[Recommendation]:
    params = {"version": version, "user_id": user_id, "genre": genre, "n": n, "offset": offset}
    rows = fetch_all(conn, FAVOURITE_SAMPLE, {**params, "seed": _seed(seed)})
    return [
        Recommendation.from_row(r, score=None, reason=f"random pick from your favourite cluster {r.cluster}")
        for r in rows
    ]


def similar(
    conn: DbConnection,
    movie_id: int,
    *,
    cluster: int | None,
    n: int,
    offset: int,
    genre: str | None,
    version: int,
    seed: int | None = None,
) -> list[Recommendation]:
    """The team's /recommend/movie: a random sample of the movie's cluster (minus the movie)."""
    if cluster is None:
        return []
    params = {
        "version": version,
        "cluster": cluster,
        "movie_id": movie_id,
        "genre": genre,
        "n": n,
        "offset": offset,
    }
    rows = fetch_all(conn, CLUSTER_SAMPLE, {**params, "seed": _seed(seed)})
    return [
        Recommendation.from_row(r, score=None, reason=f"random pick from cluster {r.cluster}") for r in rows
    ]
