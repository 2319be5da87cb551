"""Each cluster's movies ranked by a quality score, computed once per model version.

The score is user-independent, so ranking a whole cluster per request would be wasted work
(thousands of rows at 25M ratings). Per version it is a few numpy arrays, ~12 bytes a movie:
memory grows with the catalogue, never with the number of ratings. Scores come from the
`movie_features` aggregates of the last recluster run.
"""

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from sqlalchemy import text

from service.sql import DbConnection, as_psycopg, compile_sql, fetch_all

PRIOR_COUNT = 10.0  # Bayesian average: as if every movie also had 10 ratings at the global mean
POPULARITY_WEIGHT = 0.7  # popularity predicts held-out ratings better than the average does
TTL_S = 60.0  # movies added by POST /movies in another worker show up within a minute

QUALITY = compile_sql(
    text(
        """
    WITH g AS (
        SELECT coalesce(sum(avg_rating * rating_count) / nullif(sum(rating_count), 0), 3.5) AS mean,
               ln(1 + coalesce(max(rating_count), 0)) AS log_max
        FROM movie_features
    )
    SELECT mc.cluster, mc.movie_id,
           :pop_w * coalesce(ln(1 + coalesce(f.rating_count, 0)) / nullif(g.log_max, 0), 0)
           + (1 - :pop_w) * ((:prior * g.mean + coalesce(f.avg_rating * f.rating_count, 0))
                             / (:prior + coalesce(f.rating_count, 0)) - 0.5) / 4.5 AS score
    FROM movie_clusters mc
    CROSS JOIN g
    LEFT JOIN movie_features f ON f.movie_id = mc.movie_id
    WHERE mc.version = :version
    """
    )
)


@dataclass(frozen=True, slots=True)
class ClusterRanking:
    ids: np.ndarray  # movie ids, best first; ties by movie id
    scores: np.ndarray  # quality in [0, 1], same order


class RankingCache:
    """Rankings per (database, version); reloaded after TTL_S or `invalidate()`."""

    def __init__(self, ttl_s: float = TTL_S, max_entries: int = 4) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, int], tuple[float, dict[int, ClusterRanking]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, conn: DbConnection, version: int) -> dict[int, ClusterRanking]:
        info = as_psycopg(conn).info
        key = (f"{info.host}:{info.port}/{info.dbname}", version)
        with self._lock:
            entry = self._entries.get(key)
            if entry and time.monotonic() - entry[0] < self.ttl_s:
                return entry[1]
        rankings = load_rankings(conn, version)
        with self._lock:
            self._entries[key] = (time.monotonic(), rankings)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return rankings

    def invalidate(self) -> None:
        with self._lock:
            self._entries.clear()


def load_rankings(conn: DbConnection, version: int) -> dict[int, ClusterRanking]:
    rows = fetch_all(conn, QUALITY, {"version": version, "pop_w": POPULARITY_WEIGHT, "prior": PRIOR_COUNT})
    if not rows:
        return {}
    clusters = np.fromiter((r.cluster for r in rows), dtype=np.int32, count=len(rows))
    ids = np.fromiter((r.movie_id for r in rows), dtype=np.int64, count=len(rows))
    scores = np.fromiter((r.score for r in rows), dtype=np.float64, count=len(rows))
    order = np.lexsort((ids, -scores, clusters))
    clusters, ids, scores = clusters[order], ids[order], scores[order]
    starts = np.flatnonzero(np.r_[True, clusters[1:] != clusters[:-1]])
    ends = np.r_[starts[1:], len(clusters)]
    return {
        int(clusters[s]): ClusterRanking(ids[s:e].copy(), scores[s:e].copy())
        for s, e in zip(starts, ends, strict=True)
    }


RANKINGS = RankingCache()
