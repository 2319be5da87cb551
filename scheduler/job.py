"""One recluster run: features in SQL -> fit -> neighbours -> ONE write transaction -> prune.

Entry points: `run_recluster` (blocking; CLI and cron) and `run_requested` (the scheduler: claims
the run the API recorded as requested, if any, and runs it). Either way the run goes on the
caller's engine (the scheduler's or the CLI's, never the API's) and records its step as it goes.
"""

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import psycopg
from sqlalchemy import Connection, Engine, func, select, text, update
from sqlalchemy.exc import OperationalError

from cinecluster.errors import UserError
from cinecluster.settings import get_settings
from cinecluster.tables import model_versions
from scheduler import runs
from scheduler.cluster_neighbours import in_cluster_neighbours
from scheduler.clustering import ClusterParams, fit
from scheduler.engines import open_engine
from scheduler.features import FeatureOptions, rebuild_features
from scheduler.item_model import ItemModelParams
from scheduler.options import ReclusterOptions, options_from
from scheduler.placement import place_missing
from scheduler.progress import Listener, RunProgress
from scheduler.serialize import serialize
from scheduler.steps import default_write_steps
from scheduler.versions import (
    WriteContext,
    WriteStep,
    analyze_version,
    prune,
    set_active,
    wait_for_older_transactions,
    write_version,
)

if TYPE_CHECKING:
    from scheduler.engines.spark_steps import SparkRun

log = logging.getLogger(__name__)


@dataclass
class ReclusterResult:
    run_id: int
    version: int
    params: dict[str, Any]  # as stored in model_versions.params: every option of the run, and more
    metrics: dict[str, Any]
    data_counts: dict[str, int]
    pruned: list[int]
    timings: dict[str, float] = field(default_factory=dict)


# The run's steps in order, as timed (ReclusterResult.timings) and recorded (recluster_runs.step);
# the write steps (scheduler/steps.py) are reported by name between "write" and "activate", and
# timed by name too (their seconds are part of "write").
CORE_STEPS = ("features_sql", "fit", "neighbours", "serialize", "counts_wait", "write")
FINAL_STEPS = ("activate", "analyze", "prune")


def step_name(step: WriteStep) -> str:
    """'write:co_likes' for scheduler.co_likes.co_likes_step."""
    name = getattr(step, "__name__", type(step).__name__)
    return "write:" + name.strip("_").removesuffix("_step")


def run_steps(write_steps: Sequence[WriteStep]) -> list[str]:
    return [*CORE_STEPS, *(step_name(s) for s in write_steps), *FINAL_STEPS]


class _Clock:
    """Times each phase and reports it as the run's current step."""

    def __init__(self, progress: RunProgress) -> None:
        self.timings: dict[str, float] = {}
        self.progress = progress

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        self.progress.start(name)
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = round(time.perf_counter() - start, 4)

    def reported(self, step: WriteStep) -> WriteStep:
        """`step`, reporting itself as the current step when it begins."""
        name = step_name(step)

        def run(conn: Connection, context: WriteContext) -> None:
            self.progress.start(name)
            start = time.perf_counter()
            step(conn, context)
            self.timings[name] = round(time.perf_counter() - start, 4)  # inside "write"

        return run


def side_counts(conn: Connection) -> dict[str, int]:
    """Users and tags at training time; distinct users by a loose index scan over the ratings key."""
    users = conn.execute(
        text("""
            WITH RECURSIVE u AS (
                (SELECT user_id FROM ratings ORDER BY user_id LIMIT 1)
                UNION ALL
                SELECT (SELECT r.user_id FROM ratings r WHERE r.user_id > u.user_id
                        ORDER BY r.user_id LIMIT 1)
                FROM u WHERE u.user_id IS NOT NULL
            )
            SELECT count(user_id) FROM u
        """)
    ).scalar_one()
    tags = conn.execute(text("SELECT count(*) FROM tags")).scalar_one()
    return {"users": users, "tags": tags}


def _side_counts_elsewhere(engine: Engine) -> dict[str, int]:
    """On its own connection, so it overlaps the feature query and the fit (informational)."""
    with engine.connect() as conn:
        return side_counts(conn)


def _place_late_arrivals(conn: Connection, context: WriteContext) -> None:
    placed = place_missing(conn, context.version)
    if placed:
        context.metrics["placed_after_fit"] = len(placed)


def execute(
    lease: runs.RunLease,
    options: ReclusterOptions,
    write_steps: Sequence[WriteStep] | None = None,
    keep: int | None = None,
    listeners: Sequence[Listener] = (),
    features_override: FeatureOptions | None = None,
    spark_master: str | None = None,
) -> ReclusterResult:
    """Do the run on the lease's connection; marks the run succeeded or failed, then unlocks.
    `spark_master`: for the Spark engine, over CINECLUSTER_SPARK_MASTER."""
    params = ClusterParams.of(options)
    feature_options = features_override or FeatureOptions(
        log_count=options.log_count, bayes_avg=options.bayes_avg, year=options.year
    )
    conn = lease.conn
    item_model = ItemModelParams.of(options)
    try:  # the Spark engine (scheduler/engines), or None: in process
        spark = open_engine(options.engine, spark_master, _url(conn), get_settings())
    except BaseException as error:
        _record_failure(lease, error)
        _release(lease)
        raise
    chosen = default_write_steps(item_model, engine=spark) if write_steps is None else write_steps
    steps = [*chosen, _place_late_arrivals]
    progress = RunProgress(conn.engine, lease.run_id, run_steps(steps), listeners)
    clock = _Clock(progress)
    started = time.perf_counter()
    succeeded = False
    try:
        with ThreadPoolExecutor(1) as side, conn.begin():
            pending_counts = side.submit(_side_counts_elsewhere, conn.engine)
            with clock.phase("features_sql"):
                if spark is None:
                    features = rebuild_features(conn, feature_options)
                else:
                    features = spark.rebuild_features(conn, feature_options)
            if len(features.movie_ids) < params.k:
                raise UserError(
                    f"cannot make {params.k} clusters from {len(features.movie_ids)} movies;"
                    " load data first (cinecluster load DIR)"
                )
            with clock.phase("fit"):
                fitted = fit(features.values, len(features.spec.numeric_names), params)
            with clock.phase("neighbours"):
                neighbours = in_cluster_neighbours(fitted.scaled, fitted.labels)
            with clock.phase("serialize"):
                model = serialize(fitted.pipeline, features.values.shape[1])
            with clock.phase("counts_wait"):
                counts = {
                    "movies": len(features.movie_ids),
                    "ratings": features.ratings,
                    **pending_counts.result(),
                }
            with clock.phase("write"):
                version = write_version(
                    conn,
                    options=_as_run(options, spark),
                    params=params,
                    features=features,
                    fit=fitted,
                    neighbours=neighbours,
                    model=model,
                    data_counts=counts,
                    steps=[clock.reported(step) for step in steps],
                    threads=get_settings().compute_threads(),
                )
        with clock.phase("activate"):
            _activate(conn, version)
        with clock.phase("analyze"):
            _analyze(conn, version)
        with clock.phase("prune"):
            pruned = _prune(conn, keep or get_settings().keep_versions)
        with conn.begin():  # as stored: write steps may have added metrics
            stored = conn.execute(
                select(model_versions.c.params, model_versions.c.metrics).where(
                    model_versions.c.version == version
                )
            ).one()
        lease.succeed(version)
        succeeded = True
        clock.timings["total"] = round(time.perf_counter() - started, 4)
    except BaseException as error:
        _record_failure(lease, error)
        raise
    finally:
        progress.finish(succeeded)
        _release(lease)
        if spark is not None:
            _close_quietly(spark)
    return ReclusterResult(
        run_id=lease.run_id,
        version=version,
        params=stored.params,
        metrics=stored.metrics,
        data_counts=counts,
        pruned=pruned,
        timings=clock.timings,
    )


def _as_run(options: ReclusterOptions, spark: "SparkRun | None") -> dict[str, Any]:
    """Every option, as stored with the version: the engine that ran, where the options left it
    to the setting."""
    return options.model_copy(update={"engine": "local" if spark is None else "spark"}).stored()


def _url(conn: Connection) -> str:
    return conn.engine.url.render_as_string(hide_password=False)


def _close_quietly(spark: "SparkRun") -> None:
    """The run's outcome is decided; a failure to let go of Spark's cache is only logged."""
    try:
        spark.close()
    except Exception as error:
        log.warning("Spark engine not closed cleanly: %s", error)


def _activate(conn: Connection, version: int) -> None:
    """Flip to the committed version in a second, tiny transaction.

    A reader plans against the partitions it saw when it locked the tables, and may execute
    with a newer snapshot: a statement that locked before the new partitions were attached
    but saw the new active version would find none of its rows (the polling-reader test in
    tests/scheduler/test_recluster_concurrency.py caught exactly that). So the partitions are
    committed first, transactions begun before that are waited for (bounded: a long report
    query does not hold the run up for more than a few seconds), and only then the version
    goes live, with any movie that arrived meanwhile placed in the same transaction."""
    if not wait_for_older_transactions(conn):
        log.warning("activating version %s while older transactions still run", version)
    with conn.begin():
        placed = place_missing(conn, version)
        if placed:
            conn.execute(
                update(model_versions)
                .where(model_versions.c.version == version)
                .values(
                    metrics=model_versions.c.metrics.op("||")(
                        func.jsonb_build_object("placed_before_activation", len(placed))
                    )
                )
            )
        set_active(conn, version)


def _analyze(conn: Connection, version: int) -> None:
    """Statistics for the new partitions, after the commit (inside the write transaction it let
    readers see a partial version). Without them the planner guessed a plan that scanned all of
    item_neighbours for one user's live ranking (7.5 s instead of milliseconds at 5M ratings)
    until autovacuum came by. Best effort: the version is already live."""
    try:
        with conn.begin():
            analyze_version(conn, version)
    except OperationalError as error:
        log.warning("ANALYZE of version %s skipped: %s", version, error.orig)


def _prune(conn: Connection, keep: int) -> list[int]:
    """Pruning is housekeeping: if the tables are busy (lock timeout), the next run prunes."""
    try:
        with conn.begin():
            return prune(conn, keep)
    except OperationalError as error:
        if not isinstance(error.orig, psycopg.errors.LockNotAvailable):
            raise
        log.warning("prune skipped, tables busy: %s", error.orig)
        return []


def _record_failure(lease: runs.RunLease, error: BaseException) -> None:
    try:
        lease.fail(error)
    except Exception:  # the database may be gone; the row then turns stale and is marked later
        log.warning("could not mark run %s failed; it will be marked stale", lease.run_id)


def _release(lease: runs.RunLease) -> None:
    try:
        lease.release()
    except Exception:  # a dead connection has released the lock already
        log.debug("lock connection of run %s was already gone", lease.run_id)


def run_recluster(
    engine: Engine,
    options: ReclusterOptions | None = None,
    *,
    trigger: runs.Trigger = "cli",
    features: FeatureOptions | None = None,
    write_steps: Sequence[WriteStep] | None = None,
    keep: int | None = None,
    listeners: Sequence[Listener] = (),
    spark_master: str | None = None,
    **fields: Any,
) -> ReclusterResult:
    """Run now and return the new version; raises runs.ReclusterAlreadyRunning if one is running
    or requested. `fields` are ReclusterOptions by name (k=3, seed=1, ...), over `options`;
    `features` sets the feature flags (and settings the options do not have, e.g. prior_weight)."""
    values = options.model_dump() if options else {}
    if features is not None:
        values.update(log_count=features.log_count, bayes_avg=features.bayes_avg, year=features.year)
    chosen = options_from({**values, **fields})
    lease = runs.acquire(engine, trigger, chosen.stored())
    return execute(lease, chosen, write_steps, keep, listeners, features, spark_master)


def run_requested(
    engine: Engine,
    *,
    write_steps: Sequence[WriteStep] | None = None,
    listeners: Sequence[Listener] = (),
    on_claimed: Callable[[runs.RunLease], None] | None = None,
) -> ReclusterResult | None:
    """Claim the requested run, if there is one and no other run holds the lock, and run it with
    its stored options; None when there was nothing to claim."""
    lease = runs.claim(engine)
    if lease is None:
        return None
    if on_claimed is not None:
        on_claimed(lease)
    try:
        chosen = options_from(lease.options or {})
    except UserError as error:  # stored by an older or newer API: refuse, do not guess
        _record_failure(lease, error)
        _release(lease)
        raise
    return execute(lease, chosen, write_steps, listeners=listeners)
