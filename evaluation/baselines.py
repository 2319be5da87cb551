"""Strategies the evaluation compares that the API does not serve, with the API's signature.

`team_as_written` is the data team's recommend_for_user verbatim: a random sample of the
favourite cluster (most rated movies; ties: lowest id), seen movies included, as their
`.sample(n)` did. `popularity` is the most rated unseen movies of the training data.
"""

from sqlalchemy import text

from service.recommenders.types import ListRequest, Recommendation
from service.sql import DbConnection, compile_sql, fetch_all

TEAM_AS_WRITTEN = compile_sql(
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
    SELECT mc.movie_id, m.title, m.genres, mc.cluster
    FROM fav
    JOIN movie_clusters mc ON mc.version = :version AND mc.cluster = fav.cluster
    JOIN movies m ON m.movie_id = mc.movie_id
    ORDER BY hashint4extended(mc.movie_id, :seed), mc.movie_id
    LIMIT :n OFFSET :offset
    """
    )
)

POPULARITY = compile_sql(
    text(
        """
    SELECT f.movie_id, m.title, m.genres, f.rating_count
    FROM movie_features f
    JOIN movies m ON m.movie_id = f.movie_id
    WHERE NOT EXISTS (SELECT 1 FROM ratings r WHERE r.user_id = :user_id AND r.movie_id = f.movie_id)
    ORDER BY f.rating_count DESC, f.movie_id
    LIMIT :n OFFSET :offset
    """
    )
)


def team_as_written(conn: DbConnection, user_id: int, request: ListRequest) -> list[Recommendation]:
    params = {"version": request.version, "user_id": user_id, **_window(request), "seed": request.seed or 0}
    items = [
        Recommendation(r.movie_id, r.title, list(r.genres), r.cluster, None, "random pick, favourite cluster")
        for r in fetch_all(conn, TEAM_AS_WRITTEN, params)
    ]
    return _page(items, request)


def popularity(conn: DbConnection, user_id: int, request: ListRequest) -> list[Recommendation]:
    params = {"user_id": user_id, **_window(request)}
    items = [
        Recommendation(r.movie_id, r.title, list(r.genres), None, float(r.rating_count), "most rated")
        for r in fetch_all(conn, POPULARITY, params)
    ]
    return _page(items, request)


def _window(request: ListRequest) -> dict[str, int]:
    """The rows to read: the page as asked, or (with exclusions) from the start to its end plus
    as many as may be excluded (the UserStrategy contract: excluded ids leave before paging)."""
    n, offset, exclude = request.n, request.offset, request.exclude
    return {"n": n, "offset": offset} if not exclude else {"n": offset + n + len(exclude), "offset": 0}


def _page(items: list[Recommendation], request: ListRequest) -> list[Recommendation]:
    if not request.exclude:
        return items
    skip = set(request.exclude)
    return [i for i in items if i.movie_id not in skip][request.offset : request.offset + request.n]
