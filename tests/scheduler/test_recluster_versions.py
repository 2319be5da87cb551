"""Versions: deterministic, complete, atomic, rollback-able, pruned to the last N."""

import pytest
from recluster_factories import make_catalogue
from sqlalchemy import Connection, Engine, create_engine, func, select, text

from cinecluster.activation import active_version
from cinecluster.errors import UserError
from cinecluster.tables import model_versions, movie_clusters, recluster_runs
from scheduler.job import run_recluster
from scheduler.versions import PARTITIONED, WriteContext, activate, prune


def _assignments(conn: Connection, version: int) -> dict[int, int]:
    rows = conn.execute(
        select(movie_clusters.c.movie_id, movie_clusters.c.cluster).where(movie_clusters.c.version == version)
    )
    return {movie_id: cluster for movie_id, cluster in rows}


@pytest.fixture
def clustered(clustered_db_url: str):  # type: ignore[no-untyped-def]
    engine = create_engine(clustered_db_url)
    yield engine
    engine.dispose()


@pytest.mark.real_sample
def test_same_data_and_seed_give_the_same_assignments(clustered: Engine) -> None:
    result = run_recluster(clustered)
    assert result.version == 2
    with clustered.connect() as conn:
        first, second = _assignments(conn, 1), _assignments(conn, 2)
    assert len(first) == 9742
    assert first == second


@pytest.mark.real_sample
def test_every_movie_has_exactly_one_cluster_and_in_cluster_neighbours(clustered: Engine) -> None:
    with clustered.connect() as conn:
        per_cluster = conn.execute(
            text("SELECT cluster, count(*) FROM current_movie_clusters GROUP BY cluster ORDER BY cluster")
        ).all()
        movies = conn.execute(text("SELECT count(*) FROM movies")).scalar_one()
        unassigned = conn.execute(
            text(
                "SELECT count(*) FROM movies m"
                " LEFT JOIN current_movie_clusters c USING (movie_id) WHERE c IS NULL"
            )
        ).scalar_one()
        bad_neighbours = conn.execute(
            text("""
                SELECT count(*) FROM movie_neighbours n
                JOIN movie_clusters a ON a.version = n.version AND a.movie_id = n.movie_id
                JOIN movie_clusters b ON b.version = n.version AND b.movie_id = n.neighbour_id
                WHERE n.version = 1 AND (a.cluster <> b.cluster OR n.movie_id = n.neighbour_id)
            """)
        ).scalar_one()
        per_movie = conn.execute(
            text("SELECT DISTINCT count(*) FROM movie_neighbours WHERE version = 1 GROUP BY movie_id")
        ).scalars()
        sizes = conn.execute(select(model_versions.c.metrics["cluster_sizes"])).scalar_one()
    assert [c for c, _ in per_cluster] == list(range(10))
    assert sum(n for _, n in per_cluster) == movies == 9742
    assert [n for _, n in per_cluster] == sizes
    assert unassigned == 0
    assert bad_neighbours == 0
    assert set(per_movie) == {50}


def test_failure_mid_write_leaves_the_old_version_active_and_the_run_failed(engine: Engine) -> None:
    make_catalogue(engine)
    assert run_recluster(engine, k=3).version == 1

    def explode(conn: Connection, context: WriteContext) -> None:
        assert context.version == 2  # rows of version 2 are written but not yet active
        raise RuntimeError("disk full (injected)")

    with pytest.raises(RuntimeError, match="injected"):
        run_recluster(engine, k=4, write_steps=[explode])
    with engine.connect() as conn:
        assert active_version(conn) == 1
        assert list(conn.execute(select(model_versions.c.version)).scalars()) == [1]
        assert conn.execute(select(func.count()).where(movie_clusters.c.version == 2)).scalar_one() == 0
        assert conn.execute(text("SELECT to_regclass('movie_neighbours_v2')")).scalar() is None
        run = conn.execute(select(recluster_runs).order_by(recluster_runs.c.run_id.desc())).first()
    assert run is not None
    assert (run.status, run.version) == ("failed", None)
    assert run.error == "RuntimeError: disk full (injected)"
    assert run.finished_at is not None


def test_a_write_step_can_add_metrics_inside_the_transaction(engine: Engine) -> None:
    make_catalogue(engine)

    def holdout(conn: Connection, context: WriteContext) -> None:
        seen = conn.execute(
            select(func.count()).where(movie_clusters.c.version == context.version)
        ).scalar_one()
        context.metrics["holdout_ndcg10"] = 0.1
        context.metrics["rows_seen"] = seen

    result = run_recluster(engine, k=3, write_steps=[holdout])
    with engine.connect() as conn:
        metrics = conn.execute(select(model_versions.c.metrics)).scalar_one()
    assert metrics["holdout_ndcg10"] == 0.1
    assert metrics["rows_seen"] == 80
    assert result.metrics == metrics


def test_activate_rolls_back_and_rejects_unknown_versions(engine: Engine) -> None:
    make_catalogue(engine)
    run_recluster(engine, k=3)
    run_recluster(engine, k=4)
    with engine.begin() as conn:
        activate(conn, 1)
    with engine.connect() as conn:
        assert active_version(conn) == 1
        view = conn.execute(text("SELECT DISTINCT model_version FROM current_movie_clusters")).scalars()
        assert list(view) == [1]
    unknown = r"model version 7 does not exist \(kept versions: 1, 2\)"
    with pytest.raises(UserError, match=unknown), engine.begin() as conn:
        activate(conn, 7)
    with engine.connect() as conn:
        assert active_version(conn) == 1


def test_keep_n_prunes_old_versions_but_never_the_active_one(engine: Engine) -> None:
    make_catalogue(engine)
    for _ in range(3):
        run_recluster(engine, k=3, keep=10)
    with engine.begin() as conn:
        activate(conn, 1)
        assert prune(conn, keep=1) == [2]
        assert list(conn.execute(select(model_versions.c.version).order_by("version")).scalars()) == [1, 3]
        for table in PARTITIONED:  # every per-version table drops its partition
            assert conn.execute(text(f"SELECT to_regclass('{table}_v2')")).scalar() is None
            assert conn.execute(text(f"SELECT to_regclass('{table}_v3')")).scalar() is not None
    result = run_recluster(engine, k=3, keep=2)
    assert result.version == 4  # numbers are never reused
    assert result.pruned == [1]
    with engine.connect() as conn:
        kept = list(conn.execute(select(model_versions.c.version).order_by("version")).scalars())
        leftover = conn.execute(select(func.count()).where(movie_clusters.c.version == 1)).scalar_one()
    assert kept == [3, 4]
    assert leftover == 0
