"""The per-version cluster rankings behind the `cluster` strategy: loaded packed and sorted in
SQL, once for concurrent requests."""

import threading

import numpy as np
import pytest
from sqlalchemy import Engine, text

from service.recommenders import ranking
from service.recommenders.ranking import POPULARITY_WEIGHT, PRIOR_COUNT, RankingCache, load_rankings

THREADS = 6


def _version(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT version FROM active_model")).scalar_one())


@pytest.mark.real_sample
def test_rankings_are_each_clusters_movies_best_first_ties_by_id(read_engine: Engine) -> None:
    version = _version(read_engine)
    with read_engine.connect() as conn:
        rankings = load_rankings(conn, version)
        # the same quality score, row by row, ordered in Python
        rows = conn.execute(
            text(
                """
                WITH g AS (
                    SELECT sum(avg_rating * rating_count) / sum(rating_count) AS mean,
                           ln(1 + max(rating_count)) AS log_max
                    FROM movie_features
                )
                SELECT mc.cluster, mc.movie_id,
                       :w * ln(1 + coalesce(f.rating_count, 0)) / g.log_max
                       + (1 - :w) * ((:prior * g.mean + coalesce(f.avg_rating * f.rating_count, 0))
                                     / (:prior + coalesce(f.rating_count, 0)) - 0.5) / 4.5
                FROM movie_clusters mc CROSS JOIN g
                LEFT JOIN movie_features f ON f.movie_id = mc.movie_id
                WHERE mc.version = :v
                """
            ),
            {"v": version, "w": POPULARITY_WEIGHT, "prior": PRIOR_COUNT},
        ).all()
    assert sum(len(r.ids) for r in rankings.values()) == len(rows) == 9742
    for cluster, ranked in rankings.items():
        expected = sorted((r for r in rows if r[0] == cluster), key=lambda r: (-r[2], r[1]))
        assert ranked.ids.tolist() == [r[1] for r in expected]
        np.testing.assert_allclose(ranked.scores, [r[2] for r in expected], rtol=1e-12)


def test_concurrent_requests_load_a_version_once(
    read_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    version = _version(read_engine)
    loads: list[int] = []

    def counted(conn, v):  # type: ignore[no-untyped-def]
        loads.append(v)
        return load_rankings(conn, v)

    monkeypatch.setattr(ranking, "load_rankings", counted)
    cache = RankingCache()
    start = threading.Barrier(THREADS)
    results: list[dict[int, ranking.ClusterRanking]] = []

    def request() -> None:
        with read_engine.connect() as conn:
            start.wait()
            results.append(cache.get(conn, version))

    threads = [threading.Thread(target=request) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert loads == [version]
    assert len(results) == THREADS and all(r is results[0] for r in results)
    cache.invalidate()
    with read_engine.connect() as conn:
        cache.get(conn, version)
    assert loads == [version, version]
