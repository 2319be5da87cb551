"""`cluster`: the user's top clusters by affinity, their best movies, boosted by affinity.

Affinity comes from the user's ratings and the active assignments at request time (liked
movies weigh more), so a rating posted a second ago already counts. Candidates are the top
TOP_CLUSTERS clusters' movies in quality order (popularity blended with a Bayesian average);
score = quality * (1 + affinity). Movies the user rated are excluded in SQL.
"""

import numpy as np
from sqlalchemy import text

from service.queries.users import cluster_affinities
from service.recommenders.ranking import RANKINGS
from service.recommenders.types import Recommendation
from service.sql import DbConnection, compile_sql, fetch_all

TOP_CLUSTERS = 3

CANDIDATES = compile_sql(
    text(
        """
    SELECT c.movie_id, m.title, m.genres, c.cluster, c.score
    FROM unnest(CAST(:ids AS integer[]), CAST(:scores AS float8[]), CAST(:clusters AS integer[]))
         AS c(movie_id, score, cluster)
    JOIN movies m ON m.movie_id = c.movie_id
    WHERE NOT EXISTS (SELECT 1 FROM ratings r WHERE r.user_id = :user_id AND r.movie_id = c.movie_id)
      AND (CAST(:genre AS text) IS NULL OR CAST(:genre AS text) = ANY (m.genres))
    ORDER BY c.score DESC, c.movie_id
    LIMIT :n OFFSET :offset
    """
    ),
    prepare=False,
)


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
    affinities = cluster_affinities(conn, user_id, version)[:TOP_CLUSTERS]
    rankings = RANKINGS.get(conn, version)
    share = {a.cluster: a.affinity for a in affinities}
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    excluded_at_most = 0
    for a in affinities:
        ranking = rankings.get(a.cluster)
        if ranking is None:
            continue
        # Enough candidates even if every movie the user rated here ranks on top (no genre
        # filter); with a filter we cannot know, so the whole cluster goes in.
        take = len(ranking.ids) if genre else min(len(ranking.ids), n + offset + a.rated)
        excluded_at_most += a.rated
        boosted = ranking.scores[:take] * (1.0 + a.affinity)
        parts.append((ranking.ids[:take], boosted, np.full(take, a.cluster, dtype=np.int32)))
    if not parts:
        return []
    ids, scores, clusters = (np.concatenate(p) for p in zip(*parts, strict=True))
    order = np.lexsort((ids, -scores))
    if not genre:
        order = order[: n + offset + excluded_at_most]
    rows = fetch_all(
        conn,
        CANDIDATES,
        {
            "ids": ids[order].tolist(),
            "scores": scores[order].tolist(),
            "clusters": clusters[order].tolist(),
            "user_id": user_id,
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
