"""The Spark engine (--engine spark) writes the same version as the in-process engine.

On ml-latest-small and a small synthetic set with local[2], and once on a real standalone
cluster (one master, two workers, started here): movie_features and clusters equal, the
neighbour and weight tables equal up to ties at each movie's cut-off, the stored rankings equal.
The next-movie counts are compared whole: the Spark grid equals scheduler.sequence's on the same
ratings, and item_successors equals the in-process table row for row.
A Spark failure mid-run leaves the previous version serving and the run failed in one line.
Needs Java and the spark extra (skipped with the reason otherwise); one SparkSession per master.
"""

import shutil
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from spark_cluster import standalone_cluster
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from cinecluster.settings import Settings, get_settings
from scheduler.options import ReclusterOptions

pytest.importorskip("pyspark", reason="the spark extra is not installed: pip install -e '.[spark]'")

JAR = Path("/usr/share/java/postgresql.jar")
pytestmark = [
    pytest.mark.spark,
    pytest.mark.slow,
    # pyspark 4.3 warns on pandas 3 for every toPandas; a failing job's Arrow warning repeats its error
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
    pytest.mark.filterwarnings("ignore:toPandas attempted Arrow optimization:UserWarning"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
    pytest.mark.skipif(shutil.which("java") is None, reason="Spark needs a Java runtime (17+) on PATH"),
    pytest.mark.skipif(
        not JAR.is_file(), reason=f"no JDBC driver at {JAR}: apt-get install libpostgresql-jdbc-java"
    ),
]

SYNTH = {"users": 150, "movies": 220, "ratings": 9000}


@pytest.fixture(scope="session")
def spark_env(pg_server_url: str) -> Iterator[None]:
    """local[2], two read slices, one session kept for the whole test session (stopped at the end)."""
    host = make_url(pg_server_url).host
    if not host or host.startswith("/"):
        pytest.skip("the Spark engine reads PostgreSQL over TCP; this test server is a Unix socket")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CINECLUSTER_SPARK_MASTER", "local[2]")
        patch.setenv("CINECLUSTER_SPARK_PARTITIONS", "2")
        patch.setenv("CINECLUSTER_SPARK_KEEP_SESSION", "true")
        get_settings.cache_clear()
        try:
            yield
        finally:
            from scheduler.engines.spark_session import stop_session

            stop_session()
    get_settings.cache_clear()


@pytest.fixture
def setting(monkeypatch: pytest.MonkeyPatch, spark_env: None) -> Iterator[Callable[[str, str], None]]:
    """Set one CINECLUSTER_ variable for this test (the job reads get_settings())."""

    def set_it(name: str, value: str) -> None:
        monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    yield set_it
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def synth_template(databases: Any, migrated_template: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database with a small `cinecluster synth` set and one in-process run (version 1)."""
    from loaders.files import locate
    from loaders.load import load_files
    from loaders.synth import synthesize
    from scheduler.job import run_recluster

    out = tmp_path_factory.mktemp("synth")
    synthesize(out, seed=3, **SYNTH)
    url = databases.create(template=migrated_template)
    engine = create_engine(url)
    load_files(engine, locate(out, {}))
    run_recluster(engine, ReclusterOptions(k=5, engine="local"), trigger="cli")
    engine.dispose()
    name = make_url(url).database
    assert name
    return name


@pytest.fixture
def synth_db_url(databases: Any, synth_template: str) -> str:
    return databases.create(template=synth_template)


@pytest.fixture
def successor_grids(monkeypatch: pytest.MonkeyPatch) -> list[tuple[np.ndarray, np.ndarray]]:
    """(Spark's grid, scheduler.sequence.successor_counts' grid) of each Spark run in the test,
    the latter from the same ratings read in process, hidden as scheduler.co_likes does."""
    from scheduler.engines.spark_steps import SparkRun
    from scheduler.holdout_sample import hidden_pairs
    from scheduler.ratings import fetch_ratings
    from scheduler.sequence import successor_counts

    grids: list[tuple[np.ndarray, np.ndarray]] = []
    on_spark = SparkRun._successor_counts

    def both(run: SparkRun, conn: Any, context: Any) -> Callable[[np.ndarray], np.ndarray]:
        counts = on_spark(run, conn, context)

        def compared(covered: np.ndarray) -> np.ndarray:
            grid = counts(covered)
            ids = context.features.movie_ids
            ratings = fetch_ratings(conn, ids)
            trained = ~hidden_pairs(ratings.ratings, context.holdout_sample)
            if ratings.known is not None:
                trained &= ratings.known
            grids.append((grid, successor_counts(ratings.ratings, covered, len(ids), trained)))
            return grid

        return compared

    monkeypatch.setattr(SparkRun, "_successor_counts", both)
    return grids


def assert_same_successor_counts(grids: list[tuple[np.ndarray, np.ndarray]]) -> None:
    """One Spark run; its grid equal to the in-process one to the last bit, and not trivial:
    pairs one step apart and further (0.9 per step, multiples of 2^-10), some seen many times."""
    [(spark, local)] = grids
    assert spark.shape == local.shape and spark.shape[0] > 1
    assert np.array_equal(spark, local)
    assert np.count_nonzero(spark) > spark.shape[0] and spark.max() > 10
    assert not np.diagonal(spark).any()  # a user rates a movie once: never its own successor
    fractions = {float(x) for x in np.unique(spark % 1)}
    assert len(fractions) > 2 and all(x * 1024 == int(x * 1024) for x in fractions)


def _spark_run(url: str, k: int = 10, spark_master: str | None = None) -> Any:
    from scheduler.job import run_recluster

    engine = create_engine(url)
    try:
        options = ReclusterOptions(k=k, engine="spark")
        return run_recluster(engine, options, trigger="cli", spark_master=spark_master)
    finally:
        engine.dispose()


def _rows(url: str, sql: str, **params: Any) -> list[Any]:
    """The statement's rows; committed (some tests change what the API serves with it)."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(sql), params)
            return list(result.all()) if result.returns_rows else []
    finally:
        engine.dispose()


FEATURES = (
    "SELECT movie_id, avg_rating, rating_count, genre_flags, extra FROM movie_features ORDER BY movie_id"
)


def assert_same_top_lists(local: list[Any], spark: list[Any], what: str) -> None:
    """Per movie: the same scores rank by rank, and the same neighbours (and co-likes) wherever the
    score is clear of the movie's cut-off; at the cut-off a tie may be broken either way."""
    lists: list[dict[int, list[Any]]] = [defaultdict(list), defaultdict(list)]
    for table, rows in zip(lists, (local, spark), strict=True):
        for movie_id, _rank, neighbour, score, co_likes in rows:  # ordered by movie, rank
            table[movie_id].append((neighbour, score, co_likes))
    assert lists[0].keys() == lists[1].keys(), what
    for movie_id, mine in lists[0].items():
        theirs = lists[1][movie_id]
        assert len(mine) == len(theirs), f"{what}: movie {movie_id}"
        np.testing.assert_allclose([s for _, s, _ in mine], [s for _, s, _ in theirs], rtol=1e-6, atol=1e-9)
        cut = min(abs(s) for _, s, _ in mine)
        firm = [{(n, c) for n, s, c in side if abs(s) > cut * (1 + 1e-6)} for side in (mine, theirs)]
        assert firm[0] == firm[1], f"{what}: movie {movie_id}"


def assert_same_version(url: str, local: int, spark: int) -> None:
    def of(sql: str, version: int) -> list[Any]:
        return _rows(url, sql, v=version)

    clusters = "SELECT movie_id, cluster, distance FROM movie_clusters WHERE version = :v ORDER BY movie_id"
    assert of(clusters, local) == of(clusters, spark)
    for table, score in (("item_neighbours", "similarity"), ("item_weights", "weight")):
        sql = f"SELECT movie_id, rank, neighbour_id, {score}, co_likes FROM {table} WHERE version = :v"
        assert_same_top_lists(of(sql + " ORDER BY 1, 2", local), of(sql + " ORDER BY 1, 2", spark), table)
    # the next-movie table: the same counts give the same rows, every column
    successors = (
        "SELECT movie_id, rank, successor_id, weight, transitions, successor_cluster, successor_log_pop"
        " FROM item_successors WHERE version = :v ORDER BY movie_id, rank"
    )
    mine, theirs = of(successors, local), of(successors, spark)
    assert len(mine) == len(theirs) > 0
    assert mine == theirs
    assert max(row.transitions for row in theirs) > 1
    lists = (
        "SELECT user_id, movie_ids, scores, source_ids, cluster_shares FROM user_recommendations"
        " WHERE version = :v ORDER BY user_id"
    )
    mine, theirs = of(lists, local), of(lists, spark)
    assert len(mine) == len(theirs) > 0
    for a, b in zip(mine, theirs, strict=True):
        assert (a.user_id, a.movie_ids, a.source_ids) == (b.user_id, b.movie_ids, b.source_ids)
        np.testing.assert_allclose(a.scores, b.scores, rtol=1e-12)
        np.testing.assert_allclose(a.cluster_shares, b.cluster_shares, rtol=1e-12)
    # the executors ranked with the successors: some items owe most to "just rated" (negative)
    assert any(source < 0 for row in theirs for source in row.source_ids)
    # the executors' staging table became the version's partition, named as in process
    names = (
        "SELECT conname AS name FROM pg_constraint WHERE conrelid = to_regclass(:t)"
        " UNION ALL SELECT indexname FROM pg_indexes WHERE tablename = :t ORDER BY 1"
    )
    part = f"user_recommendations_v{spark}"
    found = {r.name for r in _rows(url, names, t=part)}
    assert {f"{part}_pkey", f"{part}_version_check"} <= found and not any("spark" in n for n in found)
    metrics = "SELECT metrics FROM model_versions WHERE version = :v"
    holdout = [of(metrics, v)[0].metrics["holdout"] for v in (local, spark)]
    assert holdout[0] == holdout[1]


@pytest.mark.real_sample
def test_ml_latest_small_on_local_2_equals_the_in_process_engine_and_the_api_serves_the_same(
    clustered_db_url: str, spark_env: None, successor_grids: list[tuple[np.ndarray, np.ndarray]]
) -> None:
    features = _rows(clustered_db_url, FEATURES)  # as the in-process run of version 1 wrote them
    result = _spark_run(clustered_db_url)
    assert_same_successor_counts(successor_grids)
    assert result.metrics["item_successors"]["rows"] > 0
    assert result.version == 2
    assert result.metrics["engine"] == {"name": "spark", "master": "local[2]", "partitions": 2}
    assert _rows(clustered_db_url, FEATURES) == features
    assert_same_version(clustered_db_url, 1, 2)
    answers = []
    with TestClient(create_app_for(clustered_db_url)) as client:
        for version in (1, 2):
            _rows(clustered_db_url, "UPDATE active_model SET version = :v RETURNING version", v=version)
            answers.append([client.get(f"/recommend/user/{u}", params={"n": 20}).json() for u in (1, 7, 414)])
    assert answers[0] == answers[1]
    assert all(len(answer["items"] if isinstance(answer, dict) else answer) for answer in answers[1])


def create_app_for(url: str, admin_token: str | None = None) -> Any:
    from service.app import create_app

    return create_app(Settings(database_url=url, admin_token=admin_token))


def test_synthetic_set_requested_over_http_with_engine_spark_equals_the_in_process_engine(
    synth_db_url: str, spark_env: None, successor_grids: list[tuple[np.ndarray, np.ndarray]]
) -> None:
    """POST /admin/recluster records the engine; the scheduler's run_requested runs it on Spark."""
    from scheduler.job import run_requested

    features = _rows(synth_db_url, FEATURES)
    app = create_app_for(synth_db_url, admin_token="t")
    with TestClient(app) as client:
        answer = client.post(
            "/admin/recluster", json={"k": 5, "engine": "spark"}, headers={"Authorization": "Bearer t"}
        )
    assert answer.status_code == 202, answer.text
    engine = create_engine(synth_db_url)
    try:
        result = run_requested(engine)
    finally:
        engine.dispose()
    assert result is not None and result.metrics["engine"]["name"] == "spark"
    assert_same_successor_counts(successor_grids)
    assert _rows(synth_db_url, FEATURES) == features
    assert_same_version(synth_db_url, 1, result.version)
    run = _rows(
        synth_db_url, "SELECT status, error, options FROM recluster_runs WHERE run_id = :r", r=result.run_id
    )
    assert (run[0].status, run[0].error, run[0].options["engine"]) == ("succeeded", None, "spark")


def test_a_standalone_cluster_of_two_workers_writes_the_same_version(
    synth_db_url: str, setting: Callable[[str, str], None], tmp_path: Path
) -> None:
    with standalone_cluster(tmp_path, workers=2) as cluster:
        setting(
            "CINECLUSTER_SPARK_CONF",
            '{"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1",'
            ' "spark.executor.memory": "1g", "spark.executor.cores": "1"}',
        )
        setting("CINECLUSTER_SPARK_KEEP_SESSION", "false")  # give the executors back at the end
        result = _spark_run(synth_db_url, k=5, spark_master=cluster.master_url)
        status = cluster.status()
    assert result.metrics["engine"]["master"] == cluster.master_url
    assert_same_version(synth_db_url, 1, result.version)
    # the run was an application of this cluster, and ran on both workers
    apps = status["completedapps"] + status["activeapps"]
    assert [app["name"] for app in apps] == ["cinecluster-recluster"]
    assert len({w["id"] for w in status["workers"] if w["state"] == "ALIVE"}) == 2


def _assert_failed_and_version_1_serves(url: str, expected: str) -> str:
    from cinecluster.errors import UserError

    run = _rows(url, "SELECT status, error FROM recluster_runs ORDER BY run_id DESC LIMIT 1")[0]
    assert run.status == "failed"
    assert "\n" not in run.error and expected in run.error, run.error
    assert _rows(url, "SELECT version FROM active_model")[0].version == 1
    assert _rows(url, "SELECT count(*) AS n FROM model_versions WHERE version > 1")[0].n == 0
    assert issubclass(_spark_error(), UserError)
    return str(run.error)


def _spark_error() -> type[Exception]:
    from scheduler.engines.spark_session import SparkEngineError

    return SparkEngineError


def test_executors_without_a_working_python_fail_the_run_mid_write_and_version_1_keeps_serving(
    synth_db_url: str, setting: Callable[[str, str], None], tmp_path: Path
) -> None:
    """The JVM-only reads and aggregates succeed; the first Python task (co-likes, inside the
    version's transaction) cannot start: the transaction rolls back."""
    broken = tmp_path / "python"
    broken.write_text("#!/bin/sh\necho 'no usable Python on this executor' >&2\nexit 3\n")
    broken.chmod(0o755)
    setting("CINECLUSTER_SPARK_CONF", f'{{"spark.pyspark.python": "{broken}"}}')
    with pytest.raises(_spark_error()) as raised:
        _spark_run(synth_db_url, k=5)
    error = _assert_failed_and_version_1_serves(synth_db_url, "SparkEngineError: Spark co-likes failed:")
    assert str(raised.value) in error


def _staged_tables(url: str) -> list[str]:
    rows = _rows(url, "SELECT tablename FROM pg_tables WHERE tablename LIKE 'spark\\_lists\\_v%' ORDER BY 1")
    return [row.tablename for row in rows]


def test_a_failure_after_the_executors_wrote_the_lists_leaves_no_staged_table_and_version_1_serving(
    synth_db_url: str, spark_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The executors commit the stored rankings into a staging table of their own; a run that
    fails after that (here: the step after the rankings) drops it, as the next run drops the one
    a killed run left behind."""
    import scheduler.job

    _rows(synth_db_url, "CREATE TABLE spark_lists_v99 (LIKE user_recommendations)")  # a killed run's
    written: list[int] = []

    def fail_after_the_lists(conn: Any, context: Any) -> None:
        written.append(context.metrics["user_recommendations"]["users"])
        raise RuntimeError("injected failure after the stored rankings")

    monkeypatch.setattr(scheduler.job, "_place_late_arrivals", fail_after_the_lists)
    with pytest.raises(RuntimeError):
        _spark_run(synth_db_url, k=5)
    stored = _rows(synth_db_url, "SELECT count(*) AS n FROM user_recommendations WHERE version = 1")
    assert written == [stored[0].n] and written[0] > 0  # the executors had written every list
    _assert_failed_and_version_1_serves(synth_db_url, "injected failure after the stored rankings")
    assert _staged_tables(synth_db_url) == []
    assert _rows(synth_db_url, "SELECT to_regclass('user_recommendations_v2') AS part")[0].part is None


def test_executors_that_cannot_reach_postgresql_fail_the_run_in_one_line(
    synth_db_url: str, setting: Callable[[str, str], None]
) -> None:
    setting("CINECLUSTER_SPARK_JDBC_URL", "jdbc:postgresql://127.0.0.1:1/nowhere")
    with pytest.raises(_spark_error()):
        _spark_run(synth_db_url, k=5)
    _assert_failed_and_version_1_serves(synth_db_url, "Spark movie aggregates failed:")


def test_a_master_url_spark_cannot_parse_fails_the_run_in_one_line(
    synth_db_url: str, spark_env: None
) -> None:
    with pytest.raises(_spark_error()):
        _spark_run(synth_db_url, k=5, spark_master="nonsense://nowhere")
    _assert_failed_and_version_1_serves(synth_db_url, "Spark session start failed:")


def test_executors_write_where_they_read_with_the_database_urls_credentials() -> None:
    from scheduler.engines.spark_session import executor_database_url

    url = "postgresql+psycopg://app:s%40cret@db:5432/movies?sslmode=require"
    assert executor_database_url(url, None) == "postgresql://app:s%40cret@db:5432/movies?sslmode=require"
    moved = executor_database_url(url, "jdbc:postgresql://db.internal:6432/movies?sslmode=verify-full&x=1")
    assert moved == "postgresql://app:s%40cret@db.internal:6432/movies?sslmode=verify-full"
    with pytest.raises(Exception, match="must start with jdbc:postgresql://"):
        executor_database_url(url, "postgresql://db.internal/movies")
