"""Each cluster's movies ranked by a quality score, computed once per model version.

The score is user-independent, so ranking a whole cluster per request would be wasted work
(thousands of rows at 25M ratings). Per version it is a few numpy arrays, ~12 bytes a movie:
memory grows with the catalogue, never with the number of ratings. Scores come from the
`movie_features` aggregates of the last recluster run.

Loading is bounded too: the ranking arrives sorted, packed in one bytea (16 bytes a movie, no
Python object per row), and one thread loads while concurrent requests for the same version
wait for it. Row by row, with every busy thread loading at once after a start or a TTL expiry,
one wrk pass of strategy=cluster raised the server's RSS by 39 MB at 62k movies; now by ~10 MB.
"""

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from sqlalchemy import text

from service.sql import DbConnection, as_psycopg, compile_sql, fetch_value

PRIOR_COUNT = 10.0  # Bayesian average: as if every movie also had 10 ratings at the global mean
POPULARITY_WEIGHT = 0.7  # popularity predicts held-out ratings better than the average does
TTL_S = 60.0  # movies added by POST /movies in another worker show up within a minute

# The ranking order is the SQL's: cluster, best first, ties by movie id.
QUALITY = compile_sql(
    text(
        """
    WITH g AS (
        SELECT coalesce(sum(avg_rating * rating_count) / nullif(sum(rating_count), 0), 3.5) AS mean,
               ln(1 + coalesce(max(rating_count), 0)) AS log_max
        FROM movie_features
    ), q AS (
        SELECT mc.cluster, mc.movie_id,
               :pop_w * coalesce(ln(1 + coalesce(f.rating_count, 0)) / nullif(g.log_max, 0), 0)
               + (1 - :pop_w) * ((:prior * g.mean + coalesce(f.avg_rating * f.rating_count, 0))
                                 / (:prior + coalesce(f.rating_count, 0)) - 0.5) / 4.5 AS score
        FROM movie_clusters mc
        CROSS JOIN g
        LEFT JOIN movie_features f ON f.movie_id = mc.movie_id
        WHERE mc.version = :version
    )
    SELECT string_agg(int4send(cluster) || int4send(movie_id) || float8send(score), ''::bytea
                      ORDER BY cluster, score DESC, movie_id)
    FROM q
    """
    )
)
_PACKED_ROW = np.dtype([("cluster", ">i4"), ("movie_id", ">i4"), ("score", ">f8")])


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
        self._loading = threading.Lock()

    def get(self, conn: DbConnection, version: int) -> dict[int, ClusterRanking]:
        info = as_psycopg(conn).info
        key = (f"{info.host}:{info.port}/{info.dbname}", version)
        if (rankings := self._fresh(key)) is not None:
            return rankings
        with self._loading:  # one load at a time; who waited finds it loaded
            if (rankings := self._fresh(key)) is not None:
                return rankings
            rankings = load_rankings(conn, version)
            with self._lock:
                self._entries[key] = (time.monotonic(), rankings)
                self._entries.move_to_end(key)
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
        return rankings

    def _fresh(self, key: tuple[str, int]) -> dict[int, ClusterRanking] | None:
        with self._lock:
            entry = self._entries.get(key)
        return entry[1] if entry and time.monotonic() - entry[0] < self.ttl_s else None

    def invalidate(self) -> None:
        with self._lock:
            self._entries.clear()


def load_rankings(conn: DbConnection, version: int) -> dict[int, ClusterRanking]:
    packed = fetch_value(
        conn, QUALITY, {"version": version, "pop_w": POPULARITY_WEIGHT, "prior": PRIOR_COUNT}
    )
    if not packed:
        return {}
    rows = np.frombuffer(packed, dtype=_PACKED_ROW)
    clusters = rows["cluster"]
    starts = np.flatnonzero(np.r_[True, clusters[1:] != clusters[:-1]])
    ends = np.r_[starts[1:], len(rows)]
    return {
        int(clusters[s]): ClusterRanking(
            rows["movie_id"][s:e].astype(np.int64), rows["score"][s:e].astype(np.float64)
        )
        for s, e in zip(starts, ends, strict=True)
    }


RANKINGS = RankingCache()
