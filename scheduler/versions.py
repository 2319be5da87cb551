"""Model versions: write one in ONE transaction, flip the active one, roll back, prune."""

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from sqlalchemy import Connection, delete, func, insert, select, text, update

from cinecluster.activation import active_version, set_active
from cinecluster.errors import UserError
from cinecluster.tables import (
    active_model,
    cluster_centroids,
    model_versions,
    recluster_runs,
)
from scheduler.cluster_neighbours import Neighbours
from scheduler.clustering import ClusterParams, FitResult, scaler_parameters
from scheduler.copyio import Column, copy_columns
from scheduler.features import FeatureMatrix
from scheduler.serialize import ModelBytes

ALGORITHM = "MiniBatchKMeans"


@dataclass
class WriteContext:
    """What a write step sees: the version being written (not yet active) and the fitted data.

    Steps run inside the version's transaction after its clusters and neighbours are written
    and before the flip; they may write more rows for `version` and add entries to `metrics`
    (stored in model_versions.metrics). An exception in a step aborts the whole version.
    """

    version: int
    params: ClusterParams
    features: FeatureMatrix
    fit: FitResult
    metrics: dict[str, Any] = field(default_factory=dict)
    # movie x neighbour co-rating similarities, set by the item-kNN step for the steps after it
    item_similarity: sp.csr_matrix | None = None
    # the training data of the item models (liked pairs minus the holdout), from the same step
    liked: sp.csr_matrix | None = None
    holdout_sample: Any = None
    # movie x neighbour EASE weights (pruned), set by the item-model step: the default ranking's
    item_weights: sp.csr_matrix | None = None
    item_covered: np.ndarray | None = None  # movie indices inside the item model's solve
    # movie x successor weights (the next-movie component), set by the successors step
    item_successors: sp.csr_matrix | None = None
    # per rating of `ratings`: may train the models (not one of the holdout's hidden ratings)
    trained: np.ndarray | None = None
    # every rating, read once by the first step that needs them (scheduler/ratings.py)
    ratings: Any = None
    # ln(1 + ratings) per movie, read once by the first step that needs it (item_tables.py)
    log_pop: np.ndarray | None = None
    threads: int = 1  # for the steps' numpy work: Settings.compute_threads(), resolved by the job


WriteStep = Callable[[Connection, WriteContext], None]


def next_version(conn: Connection) -> int:
    """Never reuses a number, even of a pruned version."""
    highest = select(func.max(model_versions.c.version)).scalar_subquery()
    recorded = select(func.max(recluster_runs.c.version)).scalar_subquery()
    return int(conn.execute(select(func.coalesce(func.greatest(highest, recorded), 0) + 1)).scalar_one())


def write_version(
    conn: Connection,
    *,
    options: dict[str, Any],
    params: ClusterParams,
    features: FeatureMatrix,
    fit: FitResult,
    neighbours: Neighbours,
    model: ModelBytes,
    data_counts: dict[str, int],
    steps: Sequence[WriteStep] = (),
    threads: int = 1,
) -> int:
    """Write every row of a new version, not yet active; the caller owns the transaction and
    activates the version after the commit (scheduler/job.py: why in a second transaction).
    `options`: every option of the run (ReclusterOptions.stored()), kept in params with what
    the fit adds (n_init, the feature spec that placement repeats)."""
    version = next_version(conn)
    spec = features.spec
    conn.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))  # index builds on attach
    conn.execute(
        insert(model_versions).values(
            version=version,
            algorithm=ALGORITHM,
            params={
                **options,
                "n_init": fit.pipeline.named_steps["kmeans"].n_init,
                "features": spec.to_json(),
            },
            feature_names=spec.feature_names,
            scaler=scaler_parameters(fit.pipeline, params.scaler, spec.numeric_names),
            metrics=fit.metrics,
            data_counts=data_counts,
            model_joblib=model.joblib,
            model_onnx=model.onnx,
            joblib_size=len(model.joblib),
            onnx_size=len(model.onnx),
            joblib_sha256=model.joblib_sha256,
            onnx_sha256=model.onnx_sha256,
        )
    )
    sizes = fit.metrics["cluster_sizes"]
    conn.execute(
        insert(cluster_centroids),
        [
            {"version": version, "cluster": c, "centroid": [float(x) for x in row], "size": sizes[c]}
            for c, row in enumerate(fit.centroids)
        ],
    )
    n = len(features.movie_ids)
    ids = features.movie_ids
    copy_partition(
        conn,
        "movie_clusters",
        version,
        ["version", "movie_id", "cluster", "distance"],
        [
            ("int4", np.full(n, version)),
            ("int4", ids),
            ("int2", fit.labels),
            ("float4", fit.distances),
        ],
    )
    copy_partition(
        conn,
        "movie_neighbours",
        version,
        ["version", "movie_id", "rank", "neighbour_id", "distance"],
        [
            ("int4", np.full(len(neighbours.query), version)),
            ("int4", ids[neighbours.query]),
            ("int2", neighbours.rank),
            ("int4", ids[neighbours.neighbour]),
            ("float4", neighbours.distance),
        ],
    )
    context = WriteContext(version, params, features, fit, metrics=dict(fit.metrics), threads=threads)
    for step in steps:
        step(conn, context)
    if context.metrics != fit.metrics:
        conn.execute(
            update(model_versions).where(model_versions.c.version == version).values(metrics=context.metrics)
        )
    return version


# LIST-partitioned by version (revisions 0003-0005, 0008)
PARTITIONED = (
    "movie_clusters",
    "movie_neighbours",
    "item_neighbours",
    "item_weights",
    "item_successors",
    "user_recommendations",
)


def partition_name(table: str, version: int) -> str:
    return f"{table}_v{int(version)}"


def copy_partition(
    conn: Connection,
    table: str,
    version: int,
    names: list[str],
    columns: list[Column],
    chunk_rows: int = 500_000,
) -> None:
    """COPY into a fresh table, then ATTACH it: the parent's keys and foreign keys are checked by
    index builds and one set-based query each, not by a trigger call per row. `chunk_rows`: rows
    encoded at a time (fewer for rows that hold arrays)."""
    part = partition_name(table, version)
    create_for_version(conn, table, version, part)
    copy_columns(conn, part, names, columns, chunk_rows)
    attach_partition(conn, table, version, part)


def create_for_version(conn: Connection, table: str, version: int, name: str, indexes: bool = False) -> None:
    """A plain table `name` like `table`, for `version`'s rows only, to fill and then attach.
    Without `indexes` the attach builds them (faster after a bulk COPY); with them, rows can be
    looked up while it fills, and the attach adopts them."""
    like = "INCLUDING DEFAULTS INCLUDING INDEXES" if indexes else "INCLUDING DEFAULTS"
    conn.execute(text(f"CREATE TABLE {name} (LIKE {table} {like})"))
    conn.execute(text(f"ALTER TABLE {name} ADD CHECK (version = {int(version)})"))  # attach skips its scan


def attach_partition(conn: Connection, table: str, version: int, filled: str) -> None:
    """Make the filled table `filled` the version's partition of `table` (renamed to it)."""
    part = partition_name(table, version)
    if filled != part:
        conn.execute(text(f"ALTER TABLE {filled} RENAME TO {part}"))
        # the names they would have had if made under `part` (the key: only with indexes)
        check = "RENAME CONSTRAINT {}_version_check TO {}_version_check"
        conn.execute(text(f"ALTER TABLE {part} " + check.format(filled, part)))
        conn.execute(text(f"ALTER INDEX IF EXISTS {filled}_pkey RENAME TO {part}_pkey"))
    conn.execute(text(f"ALTER TABLE {table} ATTACH PARTITION {part} FOR VALUES IN ({int(version)})"))
    # No ANALYZE here: inside the write transaction it let concurrent readers see a partial
    # version (tests/scheduler/test_recluster_concurrency.py caught it); autovacuum analyzes later.


def wait_for_older_transactions(conn: Connection, timeout: float = 5.0) -> bool:
    """Wait (bounded) until no other session of this database is in a transaction begun before
    this call; False on timeout. See scheduler/job.py for why activation waits for them.
    Leaves `conn` outside any transaction."""
    since = conn.execute(text("SELECT clock_timestamp()")).scalar_one()
    older = text(
        """
        SELECT count(*) FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start < :since
        """
    )
    deadline = time.monotonic() + timeout
    while conn.execute(older, {"since": since}).scalar_one():
        conn.rollback()
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)  # polling a system view: PostgreSQL has no "wait for old snapshots" call
    conn.rollback()
    return True


def analyze_version(conn: Connection, version: int) -> None:
    """ANALYZE the version's partitions and the rebuilt movie_features (after the commit)."""
    for table in (*PARTITIONED, "movie_features"):
        name = partition_name(table, version) if table in PARTITIONED else table
        if conn.execute(text("SELECT to_regclass(:t)"), {"t": name}).scalar() is not None:
            conn.execute(text(f"ANALYZE {name}"))


def activate(conn: Connection, version: int) -> None:
    """Serve `version` again (rollback); one UPDATE, so readers switch atomically."""
    exists = conn.execute(select(model_versions.c.version).where(model_versions.c.version == version))
    if exists.scalar_one_or_none() is None:
        kept = ", ".join(str(v) for v in list_version_numbers(conn)) or "none"
        raise UserError(f"model version {version} does not exist (kept versions: {kept})")
    set_active(conn, version)


def list_version_numbers(conn: Connection) -> list[int]:
    return list(conn.execute(select(model_versions.c.version).order_by(model_versions.c.version)).scalars())


def prune(conn: Connection, keep: int) -> list[int]:
    """Delete all but the newest `keep` versions, never the active one; returns deleted versions.

    Drops the versions' partitions (instant) rather than deleting millions of rows. Dropping a
    partition briefly locks its parent, so a short lock_timeout makes a busy moment skip the
    prune (the next run prunes) instead of queueing the API's reads behind it. Then forgets the
    rating-change notes that every kept version has seen.
    """
    newest = select(model_versions.c.version).order_by(model_versions.c.version.desc()).limit(keep)
    doomed = list(
        conn.execute(
            select(model_versions.c.version)
            .where(model_versions.c.version.not_in(newest.scalar_subquery()))
            .where(model_versions.c.version.not_in(select(active_model.c.version).scalar_subquery()))
            .order_by(model_versions.c.version)
        ).scalars()
    )
    if doomed:
        conn.execute(text("SET LOCAL lock_timeout = '5s'"))
        for version in doomed:
            for table in PARTITIONED:
                conn.execute(text(f"DROP TABLE IF EXISTS {partition_name(table, version)}"))
        conn.execute(delete(model_versions).where(model_versions.c.version.in_(doomed)))
    forget_seen_rating_changes(conn)
    return doomed


# A change visible in the oldest kept snapshot is visible in every later one: no kept version
# (nor any future one) would treat the user's stored ranking differently without the row.
_FORGET_SEEN = text(
    """
    DELETE FROM user_rating_changes
    WHERE pg_visible_in_snapshot(changed_xid, (
        SELECT ratings_snapshot FROM model_versions
        WHERE ratings_snapshot IS NOT NULL ORDER BY version LIMIT 1))
    """
)


def forget_seen_rating_changes(conn: Connection) -> int:
    """Drop the change notes every kept version's rankings already reflect (keeps the table to
    users who changed since the oldest kept run); no version with a snapshot: drops nothing."""
    return conn.execute(_FORGET_SEEN).rowcount


@dataclass(frozen=True)
class VersionInfo:
    version: int
    created_at: Any
    active: bool
    params: dict[str, Any]
    metrics: dict[str, Any]
    data_counts: dict[str, Any]
    joblib_size: int
    onnx_size: int


def list_versions(conn: Connection) -> list[VersionInfo]:
    current = active_version(conn)
    rows = conn.execute(
        select(
            model_versions.c.version,
            model_versions.c.created_at,
            model_versions.c.params,
            model_versions.c.metrics,
            model_versions.c.data_counts,
            model_versions.c.joblib_size,
            model_versions.c.onnx_size,
        ).order_by(model_versions.c.version)
    )
    return [VersionInfo(active=r.version == current, **r._asdict()) for r in rows]


def model_bytes(conn: Connection, version: int | None, fmt: str) -> tuple[int, bytes]:
    """(version, stored bytes) of `version` or of the active one."""
    if version is None:
        version = active_version(conn)
        if version is None:
            raise UserError("no model yet: run `cinecluster recluster` first")
    column = model_versions.c.model_onnx if fmt == "onnx" else model_versions.c.model_joblib
    data = conn.execute(select(column).where(model_versions.c.version == version)).scalar_one_or_none()
    if data is None:
        raise UserError(f"model version {version} does not exist")
    return version, bytes(data)
