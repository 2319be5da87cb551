"""`cluster`: the user's top clusters by affinity, their best movies, boosted by affinity.

Affinity comes from the user's ratings and the active assignments at request time (liked
movies weigh more), so a rating posted a second ago already counts. Candidates are the top
TOP_CLUSTERS clusters' movies in quality order (popularity blended with a Bayesian average);
score = quality * (1 + affinity). Movies the user rated are excluded in numpy (their ids come
packed, 4 bytes each), so only the page goes to SQL for titles, not every candidate as three
lists of Python ints (thousands for a heavy user); with a genre filter every candidate still
does, since genres live in the database.
"""

import numpy as np
from sqlalchemy import text

from service.queries.users import ClusterAffinity, cluster_affinities
from service.recommenders.ranking import RANKINGS
from service.recommenders.types import ListRequest, Recommendation, UserStrategy
from service.sql import DbConnection, compile_sql, fetch_all, fetch_one

TOP_CLUSTERS = 3

# The user's rated movies and the hidden ones (through their partial index), packed.
RATED_AND_HIDDEN = compile_sql(
    text(
        "SELECT (SELECT string_agg(int4send(movie_id), ''::bytea) FROM ratings WHERE user_id = :user_id)"
        " AS rated, (SELECT string_agg(int4send(movie_id), ''::bytea) FROM movies WHERE hidden) AS hidden"
    )
)

# Candidates arrive ranked (score desc, movie id asc); the genre filter and the page apply here.
CANDIDATES = compile_sql(
    text(
        """
    SELECT c.movie_id, m.title, m.genres, c.cluster, c.score
    FROM unnest(CAST(:ids AS integer[]), CAST(:scores AS float8[]), CAST(:clusters AS integer[]))
         WITH ORDINALITY AS c(movie_id, score, cluster, position)
    JOIN movies m ON m.movie_id = c.movie_id
    WHERE CAST(:genre AS text) IS NULL OR CAST(:genre AS text) = ANY (m.genres)
    ORDER BY c.position
    LIMIT :n OFFSET :offset
    """
    ),
    prepare=False,
)


def recommend(conn: DbConnection, user_id: int, request: ListRequest) -> list[Recommendation]:
    return recommend_from(conn, user_id, cluster_affinities(conn, user_id, request.version), request)


def with_affinities(affinities: list[ClusterAffinity]) -> UserStrategy:
    """`recommend` for a user whose affinities the caller has read already (the dashboard)."""

    def recommend(conn: DbConnection, user_id: int, request: ListRequest) -> list[Recommendation]:
        return recommend_from(conn, user_id, affinities, request)

    return recommend


def recommend_from(
    conn: DbConnection, user_id: int, all_affinities: list[ClusterAffinity], request: ListRequest
) -> list[Recommendation]:
    n, offset, genre = request.n, request.offset, request.genre
    affinities = all_affinities[:TOP_CLUSTERS]
    rankings = RANKINGS.get(conn, request.version)
    packed = fetch_one(conn, RATED_AND_HIDDEN, {"user_id": user_id})
    assert packed is not None  # one row, always
    rated = np.frombuffer(packed.rated or b"", dtype=">i4")
    # removed like rated movies, after scoring (scores are per movie: the rest keep their order)
    hidden = np.frombuffer(packed.hidden or b"", dtype=">i4").astype(np.int64)
    skip = np.concatenate([np.asarray(request.exclude, dtype=np.int64), hidden])
    removed = np.concatenate([rated.astype(np.int64), skip])
    share = {a.cluster: a.affinity for a in affinities}
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for a in affinities:
        ranking = rankings.get(a.cluster)
        if ranking is None:
            continue
        # Without a genre filter the page is among the first n + offset unrated, unskipped movies
        # of each cluster, which the first n + offset + (rated here) + (skipped) contain; with
        # one, any may be.
        take = len(ranking.ids) if genre else min(len(ranking.ids), n + offset + a.rated + len(skip))
        unrated = ~np.isin(ranking.ids[:take], removed)
        ids = ranking.ids[:take][unrated]
        scores = ranking.scores[:take][unrated]
        if not genre:
            ids, scores = ids[: n + offset], scores[: n + offset]
        boosted = scores * (1.0 + a.affinity)
        parts.append((ids, boosted, np.full(len(ids), a.cluster, dtype=np.int32)))
    if not parts:
        return []
    ids, scores, clusters = (np.concatenate(p) for p in zip(*parts, strict=True))
    order = np.lexsort((ids, -scores))
    if not genre:
        order, offset = order[offset : offset + n], 0
    rows = fetch_all(
        conn,
        CANDIDATES,
        {
            "ids": ids[order].tolist(),
            "scores": scores[order].tolist(),
            "clusters": clusters[order].tolist(),
            "genre": genre,
            "n": n,
            "offset": offset,
        },
    )
    return [
        Recommendation.from_row(
            r,
            score=r.score,
            reason=f"popular and well rated in cluster {r.cluster}, {share[r.cluster]:.0%} of your taste",
        )
        for r in rows
    ]
