"""`random`: the data team's method, a random sample of the favourite cluster.

Favourite = the cluster holding most of the user's rated movies (ties: lowest id), as in
their get_favorite_cluster. Unlike their draft, movies the user rated are excluded (the API
never recommends a seen movie). The order is a hash of (movie id, seed): pass `seed` to
reproduce a sample; without it each request draws a fresh seed.
"""

import secrets

from sqlalchemy import text

from service.recommenders.skip import SKIP_CTE, allowed, exclude_param, skipped
from service.recommenders.types import ListRequest, Recommendation
from service.sql import DbConnection, compile_sql, fetch_all

# The favourite cluster from primary-key probes per rated movie (a join hashed all of
# movie_clusters), and the sample drawn from movie_clusters alone: only the page is joined to
# movies, unless a genre filter needs every candidate's genres first. Joining the cluster's
# movies (a tenth of the catalogue) to movies before sorting them was a third of the dashboard
# user page's time at 25M ratings (benchmarks/dashboard.py).
_FAVOURITE = f"""
    WITH {SKIP_CTE}, rated AS MATERIALIZED (
        SELECT r.movie_id FROM ratings r WHERE r.user_id = :user_id
    ), fav AS (
        SELECT c.cluster
        FROM (SELECT (SELECT mc.cluster FROM movie_clusters mc
                      WHERE mc.version = :version AND mc.movie_id = r.movie_id) AS cluster
              FROM rated r) c
        WHERE c.cluster IS NOT NULL
        GROUP BY c.cluster
        ORDER BY count(*) DESC, c.cluster
        LIMIT 1
    ), drawn AS (
        SELECT mc.movie_id, mc.cluster, hashint4extended(mc.movie_id, :seed) AS draw
        FROM fav
        JOIN movie_clusters mc ON mc.version = :version AND mc.cluster = fav.cluster
        WHERE NOT EXISTS (SELECT 1 FROM rated r WHERE r.movie_id = mc.movie_id)
          AND NOT {skipped("mc.movie_id")}
    )
"""
_SAMPLE_PAGE = {
    False: """
    SELECT m.movie_id, m.title, m.genres, d.cluster
    FROM (SELECT * FROM drawn ORDER BY draw, movie_id LIMIT :n OFFSET :offset) d
    JOIN movies m ON m.movie_id = d.movie_id
    ORDER BY d.draw, d.movie_id
    """,
    True: """
    SELECT m.movie_id, m.title, m.genres, d.cluster
    FROM drawn d
    JOIN movies m ON m.movie_id = d.movie_id
    WHERE CAST(:genre AS text) = ANY (m.genres)
    ORDER BY d.draw, d.movie_id
    LIMIT :n OFFSET :offset
    """,
}
FAVOURITE_SAMPLE = {
    with_genre: compile_sql(text(_FAVOURITE + page), prepare=False)
    for with_genre, page in _SAMPLE_PAGE.items()
}

CLUSTER_SAMPLE = compile_sql(
    text(
        f"""
    SELECT m.movie_id, m.title, m.genres, mc.cluster
    FROM movie_clusters mc
    JOIN movies m ON m.movie_id = mc.movie_id
    WHERE mc.version = :version AND mc.cluster = :cluster AND mc.movie_id <> :movie_id
      AND (CAST(:genre AS text) IS NULL OR CAST(:genre AS text) = ANY (m.genres)) AND {allowed("m")}
    ORDER BY hashint4extended(m.movie_id, :seed), m.movie_id
    LIMIT :n OFFSET :offset
    """
    ),
    prepare=False,
)


def _page(request: ListRequest) -> dict[str, object]:
    """The request's parameters; without a seed, a fresh one."""
    return {
        "version": request.version,
        "genre": request.genre,
        "n": request.n,
        "offset": request.offset,
        "exclude": exclude_param(request.exclude),
        "seed": request.seed if request.seed is not None else secrets.randbits(62),
    }


def recommend(conn: DbConnection, user_id: int, request: ListRequest) -> list[Recommendation]:
    params = {"user_id": user_id, **_page(request)}
    rows = fetch_all(conn, FAVOURITE_SAMPLE[request.genre is not None], params)
    return [
        Recommendation.from_row(r, score=None, reason=f"random pick from your favourite cluster {r.cluster}")
        for r in rows
    ]


def similar(
    conn: DbConnection, movie_id: int, cluster: int | None, request: ListRequest
) -> list[Recommendation]:
    """The team's /recommend/movie: a random sample of the movie's cluster (minus the movie)."""
    if cluster is None:
        return []
    rows = fetch_all(conn, CLUSTER_SAMPLE, {"cluster": cluster, "movie_id": movie_id, **_page(request)})
    return [
        Recommendation.from_row(r, score=None, reason=f"random pick from cluster {r.cluster}") for r in rows
    ]
