"""`liked_neighbours` (default): movies that people who liked what you liked also liked.

Chosen by the offline evaluation (docs/evaluation.md): NDCG@10 ~0.10 on the ml-latest-small
temporal holdout, against 0.074 for popularity and 0.016 for the team's random pick.
From the ratings and the active version:
  liked    = the user's ratings >= 4 or >= their own mean (the most recent PROFILE_CAP of them);
  score    = sum of item_neighbours.similarity from the liked movies, divided by the user's best
             + W_AFFINITY * share of the user's liked movies in the candidate's cluster
             + W_POPULARITY * ln(1 + ratings of the candidate), divided by the candidates' max.
The cluster boost keeps the clusters as the explanation and costs no accuracy; the reason names
the cluster and the liked movie the candidate owes most to. When the neighbours run out (a user
whose liked movies have no neighbours yet), the list continues with the most rated movies.
A genre filter applies to the ranking (scores are normalised over all candidates first).

Two ways to the same list:
  stored - the recluster run ranked every user (scheduler/user_lists.py) into
           user_recommendations; while none of the user's rating changes (user_rating_changes,
           kept by triggers on ratings) committed outside the snapshot the run read the ratings
           under, a page is one row and n movie lookups (the common case: ~a pk lookup);
  live   - the same formula in SQL, per request: for users who rated something since the run
           (ratings count immediately), pages past the stored LIST_LENGTH, and new users.
tests/service/test_api_stored_lists.py checks both give the same pages for every user.
"""

from typing import Any

import psycopg
from sqlalchemy import text

from cinecluster.ranking import PROFILE_CAP, TOP_N, W_AFFINITY, W_POPULARITY
from service.recommenders import neighbours as in_cluster
from service.recommenders.types import Recommendation
from service.sql import DbConnection, Query, afetch_all, compile_sql, fetch_all, fetch_value

# The stored list, only while it is current: the user's last rating change (if any) is visible
# in the snapshot the recluster run read the ratings under, i.e. the list already reflects it
# (a primary-key lookup in a small table; reading the user's ratings instead cost 3.5x the rest
# at 25M ratings). A version without a snapshot (written before revision 0006) is never served
# from here. Without a genre filter only the page's positions are joined to movies (n lookups,
# not LIST_LENGTH). {version} is the version parameter, or the active version looked up in the
# same statement (the hot path: one round trip per request).
_STORED = """
    SELECT l.movie_id, m.title, m.genres, mc.cluster, l.score,
           coalesce(u.cluster_shares[mc.cluster + 1], 0) AS share, sm.title AS source_title
    FROM user_recommendations u
    JOIN model_versions v ON v.version = u.version
    CROSS JOIN LATERAL unnest({lists}) WITH ORDINALITY AS l(movie_id, score, source_id, position)
    JOIN movies m ON m.movie_id = l.movie_id
    LEFT JOIN movie_clusters mc ON mc.version = u.version AND mc.movie_id = l.movie_id
    LEFT JOIN movies sm ON sm.movie_id = l.source_id
    WHERE u.version = {version} AND u.user_id = :user_id
      AND v.ratings_snapshot IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM user_rating_changes c
                      WHERE c.user_id = :user_id
                        AND NOT pg_visible_in_snapshot(c.changed_xid, v.ratings_snapshot))
      {page}
"""
# Without a genre the page is a slice of the arrays (unnesting all LIST_LENGTH and filtering
# cost ~15% of the statement); with one, every position's genres are needed first.
_STORED_PAGE = {
    False: {
        "lists": "u.movie_ids[:offset + 1 : :offset + :n], u.scores[:offset + 1 : :offset + :n],"
        " u.source_ids[:offset + 1 : :offset + :n]",
        "page": "ORDER BY l.position",
    },
    True: {
        "lists": "u.movie_ids, u.scores, u.source_ids",
        "page": """AND CAST(:genre AS text) = ANY (m.genres)
      ORDER BY l.position
      LIMIT :n OFFSET :offset""",
    },
}
_ACTIVE = "(SELECT a.version FROM active_model a)"


def _stored(version: str) -> dict[bool, Query]:
    """The stored-page statement per "has a genre filter", for a version expression."""
    return {
        with_genre: compile_sql(text(_STORED.format(version=version, **page)))
        for with_genre, page in _STORED_PAGE.items()
    }


STORED = _stored(":version")
STORED_ACTIVE = _stored(_ACTIVE)

# The live ranking. item_neighbours carries each neighbour's cluster and ln(1 + ratings), so
# the candidates are ranked from one table; movies are looked up only for the page.
_CANDIDATES = """
    WITH liked AS (
        SELECT r.movie_id
        FROM ratings r
        WHERE r.user_id = :user_id
          AND (r.rating >= 4 OR r.rating >= (SELECT avg(rating) FROM ratings WHERE user_id = :user_id))
        ORDER BY r.ts DESC, r.movie_id DESC
        LIMIT :cap
    ), affinity AS (
        SELECT mc.cluster, count(*)::float8 / sum(count(*)) OVER () AS share
        FROM liked l
        JOIN movie_clusters mc ON mc.version = :version AND mc.movie_id = l.movie_id
        GROUP BY mc.cluster
    ), expanded AS MATERIALIZED (
        SELECT n.neighbour_id, n.movie_id AS source_id, n.similarity, n.neighbour_cluster,
               n.neighbour_log_pop
        FROM liked l
        JOIN item_neighbours n ON n.version = :version AND n.movie_id = l.movie_id
        WHERE NOT EXISTS (SELECT 1 FROM ratings r WHERE r.user_id = :user_id AND r.movie_id = n.neighbour_id)
    ), candidates AS (
        -- exact in any order (float4 terms, see scheduler/user_lists.py), so plans cannot change it
        SELECT e.neighbour_id AS movie_id, sum(e.similarity::float8) AS similarity,
               min(e.neighbour_cluster) AS cluster, min(e.neighbour_log_pop) AS log_pop
        FROM expanded e
        GROUP BY e.neighbour_id
    ), scored AS (
        SELECT c.movie_id, c.cluster, coalesce(a.share, 0) AS share,
               c.similarity / max(c.similarity) OVER ()
               + :w_affinity * coalesce(a.share, 0)
               + :w_popularity * coalesce(c.log_pop / nullif(max(c.log_pop) OVER (), 0), 0) AS score
        FROM candidates c
        LEFT JOIN affinity a ON a.cluster = c.cluster
    )
"""

# The page, then movies for it only; with a genre, every candidate's genres are needed first.
_PAGE = {
    False: """
    , page AS (
        SELECT s.*, m.title, m.genres
        FROM (SELECT * FROM scored ORDER BY score DESC, movie_id LIMIT :n OFFSET :offset) s
        JOIN movies m ON m.movie_id = s.movie_id
    )""",
    True: """
    , page AS (
        SELECT s.*, m.title, m.genres
        FROM scored s
        JOIN movies m ON m.movie_id = s.movie_id
        WHERE CAST(:genre AS text) = ANY (m.genres)
        ORDER BY s.score DESC, s.movie_id
        LIMIT :n OFFSET :offset
    )""",
}
_SOURCES_AND_TITLES = """
    , sources AS (  -- the liked movie each page item owes most to
        SELECT DISTINCT ON (e.neighbour_id) e.neighbour_id, e.source_id
        FROM expanded e
        JOIN page p ON p.movie_id = e.neighbour_id
        ORDER BY e.neighbour_id, e.similarity DESC, e.source_id
    )
    SELECT p.movie_id, p.title, p.genres, p.cluster, p.score, p.share, sm.title AS source_title
    FROM page p
    LEFT JOIN sources so ON so.neighbour_id = p.movie_id
    LEFT JOIN movies sm ON sm.movie_id = so.source_id
    ORDER BY p.score DESC, p.movie_id
"""
RANKED = {
    with_genre: compile_sql(text(_CANDIDATES + page + _SOURCES_AND_TITLES), prepare=False)
    for with_genre, page in _PAGE.items()
}

COUNT = compile_sql(
    text(
        _CANDIDATES
        + """
    SELECT count(*) FROM scored s JOIN movies m ON m.movie_id = s.movie_id
    WHERE CAST(:genre AS text) IS NULL OR CAST(:genre AS text) = ANY (m.genres)
    """
    ),
    prepare=False,
)

# After the neighbours: the most rated movies the user has not rated and that are not candidates.
POPULAR_REST = compile_sql(
    text(
        _CANDIDATES
        + """
    SELECT m.movie_id, m.title, m.genres, mc.cluster, f.rating_count
    FROM movie_features f
    JOIN movies m ON m.movie_id = f.movie_id
    LEFT JOIN movie_clusters mc ON mc.version = :version AND mc.movie_id = f.movie_id
    WHERE NOT EXISTS (SELECT 1 FROM ratings r WHERE r.user_id = :user_id AND r.movie_id = f.movie_id)
      AND NOT EXISTS (SELECT 1 FROM candidates c WHERE c.movie_id = f.movie_id)
      AND (CAST(:genre AS text) IS NULL OR CAST(:genre AS text) = ANY (m.genres))
    ORDER BY f.rating_count DESC, f.movie_id
    LIMIT :n OFFSET :offset
    """
    ),
    prepare=False,
)


def _reason(source: str | None, cluster: int | None, share: float) -> str:
    liked = source or "movies you liked"
    where = f"cluster {cluster}" if cluster is not None else "no cluster yet"
    return f"liked by people who liked {liked}; {where} ({share:.0%} of your liked movies)"


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
    """The stored list while it is current and long enough for the page; else the live ranking."""
    found = stored(conn, user_id, n=n, offset=offset, genre=genre, version=version)
    if found is not None:
        return found
    return live(conn, user_id, n=n, offset=offset, genre=genre, version=version)


def stored(
    conn: DbConnection, user_id: int, *, n: int, offset: int, genre: str | None, version: int
) -> list[Recommendation] | None:
    """The page of the stored list, or None when it cannot serve it (out of date, too short)."""
    page = {"user_id": user_id, "version": version, "genre": genre, "n": n, "offset": offset}
    rows = ranked(fetch_all(conn, STORED[genre is not None], page))
    return rows if len(rows) == n else None


def live_strategy(
    conn: DbConnection,
    user_id: int,
    *,
    n: int,
    offset: int,
    genre: str | None,
    version: int,
    seed: int | None = None,
) -> list[Recommendation]:
    """`recommend` without the stored list: for callers that have just found it unusable."""
    return live(conn, user_id, n=n, offset=offset, genre=genre, version=version)


def ranked(rows: list[Any]) -> list[Recommendation]:
    return [
        Recommendation.from_row(r, score=r.score, reason=_reason(r.source_title, r.cluster, float(r.share)))
        for r in rows
    ]


def _ranking_params(user_id: int, version: int, genre: str | None) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "version": version,
        "genre": genre,
        "cap": PROFILE_CAP,
        "w_affinity": W_AFFINITY,
        "w_popularity": W_POPULARITY,
    }


def live(
    conn: DbConnection, user_id: int, *, n: int, offset: int, genre: str | None, version: int
) -> list[Recommendation]:
    """The ranking computed in SQL now, from the ratings as they are."""
    params = _ranking_params(user_id, version, genre)
    result = ranked(fetch_all(conn, RANKED[genre is not None], {**params, "n": n, "offset": offset}))
    if len(result) == n:
        return result
    # the neighbours ran out on this page: continue with the most rated movies
    total = int(fetch_value(conn, COUNT, params))
    rest = fetch_all(conn, POPULAR_REST, {**params, "n": n - len(result), "offset": max(0, offset - total)})
    return result + [
        Recommendation.from_row(
            r, score=0.0, reason=f"popular: rated by {r.rating_count} users; cluster {r.cluster}"
        )
        for r in rest
    ]


_SIMILAR = """
    SELECT n.neighbour_id AS movie_id, m.title, m.genres, n.neighbour_cluster AS cluster,
           n.similarity, n.co_likes, n.rank
    FROM item_neighbours n
    JOIN movies m ON m.movie_id = n.neighbour_id
    WHERE n.version = :version AND n.movie_id = :movie_id
      AND (CAST(:genre AS text) IS NULL OR CAST(:genre AS text) = ANY (m.genres))
    ORDER BY n.rank
    LIMIT :n OFFSET :offset
"""
SIMILAR = compile_sql(text(_SIMILAR))

# /recommend/movie's hot path: the co-rating list, continued with the nearest in-cluster
# neighbours not already listed (what `similar` does in three queries), in one statement. Many
# movies have short co-rating lists (few people liked them: most of ml-latest-small), so both
# parts are read, each cut to the page's end before anything is joined; movies and clusters
# are joined for the page's n rows only. With a genre filter every listed movie's genres are
# needed before the cut, so that variant joins first.
_SIMILAR_THEN_NEAREST = {
    False: f"""
    WITH v AS MATERIALIZED {_ACTIVE}, co AS MATERIALIZED (
        SELECT n.neighbour_id AS movie_id, n.neighbour_cluster AS cluster, n.similarity,
               n.co_likes, NULL::real AS distance, 0 AS part, n.rank
        FROM item_neighbours n
        WHERE n.version = (SELECT version FROM v) AND n.movie_id = :movie_id
        ORDER BY n.rank
        LIMIT :offset + :n
    ), near AS (
        SELECT n.neighbour_id, NULL::int, NULL::real, NULL::int, n.distance, 1, n.rank
        FROM movie_neighbours n
        WHERE n.version = (SELECT version FROM v) AND n.movie_id = :movie_id
          AND n.neighbour_id <> :movie_id
          AND NOT EXISTS (SELECT 1 FROM co WHERE co.movie_id = n.neighbour_id)
        ORDER BY n.rank
        LIMIT :offset + :n
    ), page AS (
        SELECT * FROM co UNION ALL SELECT * FROM near
        ORDER BY part, rank
        LIMIT :n OFFSET :offset
    )
    SELECT p.movie_id, coalesce(p.cluster, mc.cluster) AS cluster, p.similarity, p.co_likes,
           p.distance, p.part, p.rank, m.title, m.genres
    FROM page p
    JOIN movies m ON m.movie_id = p.movie_id
    LEFT JOIN movie_clusters mc
        ON p.part = 1 AND mc.version = (SELECT version FROM v) AND mc.movie_id = p.movie_id
    ORDER BY p.part, p.rank
    """,
    True: f"""
    WITH v AS MATERIALIZED {_ACTIVE}, co AS (
        SELECT n.neighbour_id AS movie_id, n.neighbour_cluster AS cluster, n.similarity,
               n.co_likes, NULL::real AS distance, 0 AS part, n.rank
        FROM item_neighbours n
        WHERE n.version = (SELECT version FROM v) AND n.movie_id = :movie_id
    ), near AS (
        SELECT n.neighbour_id, mc.cluster, NULL::real, NULL::int, n.distance, 1, n.rank
        FROM movie_neighbours n
        LEFT JOIN movie_clusters mc ON mc.version = n.version AND mc.movie_id = n.neighbour_id
        WHERE n.version = (SELECT version FROM v) AND n.movie_id = :movie_id
          AND n.neighbour_id <> :movie_id
          AND NOT EXISTS (SELECT 1 FROM co WHERE co.movie_id = n.neighbour_id)
    )
    SELECT x.*, m.title, m.genres
    FROM (SELECT * FROM co UNION ALL SELECT * FROM near) x
    JOIN movies m ON m.movie_id = x.movie_id
    WHERE CAST(:genre AS text) = ANY (m.genres)
    ORDER BY x.part, x.rank
    LIMIT :n OFFSET :offset
    """,
}
SIMILAR_THEN_NEAREST = {
    with_genre: compile_sql(text(sql)) for with_genre, sql in _SIMILAR_THEN_NEAREST.items()
}


async def stored_page(
    conn: psycopg.AsyncConnection, user_id: int, *, n: int, offset: int, genre: str | None
) -> list[Recommendation] | None:
    """The hot path of /recommend/user in one statement: the page of the stored list for the
    active version, or None if it cannot serve it (unknown user, ratings changed since the
    run, page past the stored list, no model) -- then the route takes the full path."""
    page = {"user_id": user_id, "genre": genre, "n": n, "offset": offset}
    rows = ranked(await afetch_all(conn, STORED_ACTIVE[genre is not None], page))
    return rows if len(rows) == n else None


async def similar_page(
    conn: psycopg.AsyncConnection, movie_id: int, *, n: int, offset: int, genre: str | None
) -> list[Recommendation] | None:
    """The hot path of /recommend/movie in one statement: a page of the active version's
    co-rating neighbours continued by its nearest in-cluster ones, or None (unknown movie, page
    past both lists, no model) -- then the route takes the full path."""
    page = {"movie_id": movie_id, "genre": genre, "n": n, "offset": offset}
    rows = similar_then_nearest(await afetch_all(conn, SIMILAR_THEN_NEAREST[genre is not None], page))
    return rows if len(rows) == n else None


def similar_then_nearest(rows: list[Any]) -> list[Recommendation]:
    """SIMILAR_THEN_NEAREST's rows as items: part 0 co-rating, part 1 in-cluster neighbours."""
    return [co_liked([r])[0] if r.part == 0 else in_cluster.nearest(r) for r in rows]


def co_liked(rows: list[Any]) -> list[Recommendation]:
    return [
        Recommendation.from_row(
            r, score=r.similarity, reason=f"liked by {r.co_likes} of the same users; cluster {r.cluster}"
        )
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
    """/recommend/movie from co-ratings: the movies most often liked by the same users.

    The held-out data supports these over in-cluster feature neighbours (docs/evaluation.md).
    Past the co-rating neighbours (a movie added since the last run has none; a genre filter
    or a deep page runs out), the list continues with the in-cluster `neighbours` strategy.
    """
    params = {"version": version, "movie_id": movie_id, "genre": genre}
    page = co_liked(fetch_all(conn, SIMILAR, {**params, "n": n, "offset": offset}))
    if len(page) == n:  # the common case: n rows joined, not the whole list
        return page
    everything = co_liked(fetch_all(conn, SIMILAR, {**params, "n": TOP_N, "offset": 0}))
    # continue with the in-cluster list, skipping movies already listed above
    listed = {r.movie_id for r in everything}
    skip = max(0, offset - len(everything))
    fill = in_cluster.similar(
        conn,
        movie_id,
        cluster=cluster,
        n=skip + n - len(page) + len(listed),
        offset=0,
        genre=genre,
        version=version,
        seed=seed,
    )
    fresh = [r for r in fill if r.movie_id not in listed]
    return page + fresh[skip : skip + n - len(page)]


# The liked movies of the live ranking's profile (its `liked` CTE, so both read one definition),
# most recent first, with the star rating: what the dashboard shows as "movies you liked".
PROFILE = compile_sql(
    text(
        _CANDIDATES
        + """
    SELECT m.movie_id, m.title, m.genres, r.rating, r.ts
    FROM liked l
    JOIN ratings r ON r.user_id = :user_id AND r.movie_id = l.movie_id
    JOIN movies m ON m.movie_id = l.movie_id
    ORDER BY r.ts DESC, r.movie_id DESC
    """
    ),
    prepare=False,
)


def liked_profile(conn: DbConnection, user_id: int, version: int) -> list[Any]:
    """Rows (movie_id, title, genres, rating, ts) of the movies the ranking takes as liked."""
    return fetch_all(conn, PROFILE, _ranking_params(user_id, version, None))
