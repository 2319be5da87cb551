"""Table metadata shared by the loaders, the recluster job, the API and Alembic.

The schema itself is owned by the revisions in migrations/versions; this module mirrors it
for typed SQLAlchemy Core queries. Keep both in step (tests/test_migrations.py compares them).
"""

from sqlalchemy import (
    ARRAY,
    REAL,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    Table,
    Text,
    Unicode,
    text,
)
from sqlalchemy.dialects.postgresql import DOUBLE_PRECISION, JSONB
from sqlalchemy.dialects.postgresql.base import ischema_names
from sqlalchemy.types import UserDefinedType

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class PgSnapshot(UserDefinedType[str]):
    """PostgreSQL's pg_snapshot (a transaction snapshot: xmin:xmax:xip,...), as text in Python."""

    cache_ok = True

    def get_col_spec(self, **kw: object) -> str:
        return "pg_snapshot"


class Xid8(UserDefinedType[str]):
    """PostgreSQL's xid8 (a 64-bit transaction id), as text in Python."""

    cache_ok = True

    def get_col_spec(self, **kw: object) -> str:
        return "xid8"


# reflected back as themselves (Alembic's comparison in tests/test_migrations.py), not NullType
ischema_names.update(pg_snapshot=PgSnapshot, xid8=Xid8)


# --- source data -------------------------------------------------------------------------

movies = Table(
    "movies",
    metadata,
    Column("movie_id", Integer, primary_key=True, autoincrement=False, comment="MovieLens movieId."),
    Column("title", Text, nullable=False, comment="Title as in MovieLens, year suffix included."),
    Column("year", SmallInteger, comment="Release year parsed from the title's '(YYYY)'; NULL if absent."),
    Column(
        "genres",
        ARRAY(Text),
        nullable=False,
        server_default="{}",
        comment="Genres in MovieLens order; '(no genres listed)' is stored as an empty array.",
    ),
    comment="Movies from movies.csv / cleaned_movies.csv, and movies added through POST /movies.",
)
Index("ix_movies_genres", movies.c.genres, postgresql_using="gin")

links = Table(
    "links",
    metadata,
    Column(
        "movie_id",
        Integer,
        ForeignKey("movies.movie_id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
        comment="MovieLens movieId.",
    ),
    Column("imdb_id", Text, comment="IMDb id digits, as in links.csv (leading zeros kept)."),
    Column("tmdb_id", Integer, comment="The Movie Database id; NULL when links.csv has none."),
    comment="External ids from the optional links.csv.",
)

ratings = Table(
    "ratings",
    metadata,
    Column("user_id", Integer, primary_key=True, autoincrement=False, comment="MovieLens userId."),
    Column(
        "movie_id",
        Integer,
        ForeignKey("movies.movie_id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
        comment="Rated movie.",
    ),
    Column("rating", REAL, nullable=False, comment="Stars, 0.5 to 5.0 in steps of 0.5."),
    Column("ts", DateTime(timezone=True), nullable=False, comment="When the rating was given."),
    CheckConstraint(
        "rating BETWEEN 0.5 AND 5.0 AND rating * 2 = round(rating * 2)", name="rating_on_star_grid"
    ),
    comment="One rating per (user, movie); a duplicate keeps the latest timestamp.",
)
Index("ix_ratings_movie_id", ratings.c.movie_id)

tags = Table(
    "tags",
    metadata,
    Column("tag_id", BigInteger, Identity(), primary_key=True, comment="Surrogate key."),
    Column("user_id", Integer, comment="MovieLens userId; NULL for the team's movieId,tag files."),
    Column(
        "movie_id",
        Integer,
        ForeignKey("movies.movie_id", ondelete="CASCADE"),
        nullable=False,
        comment="Tagged movie.",
    ),
    Column("tag", Text, nullable=False, comment="One trimmed, non-empty tag."),
    Column("ts", DateTime(timezone=True), comment="When the tag was applied; NULL if unknown."),
    CheckConstraint("tag <> '' AND tag = btrim(tag)", name="tag_trimmed_not_empty"),
    comment="Free-text tags; a cell holding 'a|b' is stored as two tags.",
)
Index("ix_tags_movie_id", tags.c.movie_id)
Index(
    "uq_tags_natural",
    tags.c.movie_id,
    tags.c.user_id,
    tags.c.tag,
    tags.c.ts,
    unique=True,
    postgresql_nulls_not_distinct=True,
)

# --- clustering --------------------------------------------------------------------------

movie_features = Table(
    "movie_features",
    metadata,
    Column(
        "movie_id",
        Integer,
        ForeignKey("movies.movie_id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
        comment="Movie.",
    ),
    Column("avg_rating", Float, nullable=False, comment="Mean stars; 0 when unrated (team's fillna(0))."),
    Column("rating_count", Integer, nullable=False, comment="Number of ratings; 0 when unrated."),
    Column(
        "genre_flags",
        ARRAY(SmallInteger),
        nullable=False,
        comment="One-hot genres, in the order of model_versions.feature_names.",
    ),
    Column(
        "extra",
        ARRAY(Float),
        nullable=False,
        server_default="{}",
        comment="Optional extra features (log count, Bayesian average...), per the run's options.",
    ),
    comment="Per-movie feature table rebuilt by every recluster run from SQL aggregates.",
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False, comment="1, 2, 3... never reused."),
    Column(
        "created_at",
        DateTime(timezone=True),
        nullable=False,
        server_default="now()",
        comment="When the version was written.",
    ),
    Column("algorithm", Text, nullable=False, comment="Estimator, e.g. MiniBatchKMeans."),
    Column("params", JSONB, nullable=False, comment="k, batch size, seed, scaler, feature options."),
    Column("feature_names", ARRAY(Text), nullable=False, comment="Columns of the feature matrix, in order."),
    Column(
        "scaler",
        JSONB,
        nullable=False,
        comment="Scaler kind and per-column parameters (center/scale) of the numeric features.",
    ),
    Column(
        "metrics",
        JSONB,
        nullable=False,
        comment="inertia, silhouette (sampled), davies_bouldin, cluster_sizes, holdout NDCG@10.",
    ),
    Column("data_counts", JSONB, nullable=False, comment="movies, ratings, users, tags at training time."),
    Column("model_joblib", LargeBinary, nullable=False, comment="Fitted pipeline, compressed joblib."),
    Column("model_onnx", LargeBinary, nullable=False, comment="The same model as ONNX (skl2onnx)."),
    Column("joblib_size", Integer, nullable=False, comment="Bytes of model_joblib."),
    Column("onnx_size", Integer, nullable=False, comment="Bytes of model_onnx."),
    Column("joblib_sha256", Text, nullable=False, comment="sha256 hex of model_joblib."),
    Column("onnx_sha256", Text, nullable=False, comment="sha256 hex of model_onnx."),
    Column(
        "ratings_snapshot",
        PgSnapshot(),
        comment=(
            "Snapshot (pg_current_snapshot) under which the recluster run read the ratings it ranked users"
            " from; NULL: stored rankings of this version are not served."
        ),
    ),
    comment="One row per trained model; the last CINECLUSTER_KEEP_VERSIONS are kept.",
)

active_model = Table(
    "active_model",
    metadata,
    Column(
        "singleton",
        Boolean,
        primary_key=True,
        server_default="true",
        comment="Always true: the table holds at most one row.",
    ),
    Column(
        "version",
        Integer,
        ForeignKey("model_versions.version"),
        nullable=False,
        comment="The version the API and the views serve.",
    ),
    Column(
        "activated_at",
        DateTime(timezone=True),
        nullable=False,
        server_default="now()",
        comment="When it became active.",
    ),
    CheckConstraint("singleton", name="one_row"),
    comment="The active model version; flipping it is one UPDATE, so readers switch atomically.",
)

cluster_centroids = Table(
    "cluster_centroids",
    metadata,
    Column(
        "version",
        Integer,
        ForeignKey("model_versions.version", ondelete="CASCADE"),
        primary_key=True,
        comment="Model version.",
    ),
    Column("cluster", SmallInteger, primary_key=True, autoincrement=False, comment="Cluster id 0..k-1."),
    Column(
        "centroid",
        ARRAY(Float),
        nullable=False,
        comment="Centroid in scaled feature space, in the order of feature_names.",
    ),
    Column("size", Integer, nullable=False, comment="Movies assigned at training time."),
    comment="Centroids of each version, used to place new movies without unpickling.",
)

movie_clusters = Table(
    "movie_clusters",
    metadata,
    Column(
        "version",
        Integer,
        ForeignKey("model_versions.version", ondelete="CASCADE"),
        primary_key=True,
        comment="Model version.",
    ),
    Column(
        "movie_id",
        Integer,
        ForeignKey("movies.movie_id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
        comment="Movie.",
    ),
    Column("cluster", SmallInteger, nullable=False, comment="Assigned cluster."),
    Column("distance", REAL, nullable=False, comment="Euclidean distance to the centroid (scaled space)."),
    comment="Every movie's cluster per version; movies added later are placed on arrival.",
    postgresql_partition_by="LIST (version)",  # one partition per version (revision 0003)
)
Index("ix_movie_clusters_version_cluster", movie_clusters.c.version, movie_clusters.c.cluster)

movie_neighbours = Table(
    "movie_neighbours",
    metadata,
    Column(
        "version",
        Integer,
        ForeignKey("model_versions.version", ondelete="CASCADE"),
        primary_key=True,
        comment="Model version.",
    ),
    Column(
        "movie_id",
        Integer,
        ForeignKey("movies.movie_id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
        comment="Query movie.",
    ),
    Column("rank", SmallInteger, primary_key=True, autoincrement=False, comment="1 = most similar."),
    Column(
        "neighbour_id",
        Integer,
        ForeignKey("movies.movie_id", ondelete="CASCADE"),
        nullable=False,
        comment="Similar movie in the same cluster.",
    ),
    Column("distance", REAL, nullable=False, comment="Distance in scaled feature space."),
    comment="Top-50 nearest neighbours of each movie inside its cluster, per version.",
    postgresql_partition_by="LIST (version)",  # one partition per version (revision 0003)
)

recluster_runs = Table(
    "recluster_runs",
    metadata,
    Column("run_id", BigInteger, Identity(), primary_key=True, comment="Run id."),
    Column("trigger", Text, nullable=False, comment="cron, cli or api."),
    Column("status", Text, nullable=False, comment="requested, running, succeeded or failed."),
    Column("started_at", DateTime(timezone=True), comment="When the run started; NULL while requested."),
    Column("finished_at", DateTime(timezone=True), comment="End time; NULL while running."),
    Column("version", Integer, comment="Version written by a successful run."),
    Column("error", Text, comment="One-line error of a failed run."),
    Column(
        "backend_pid",
        Integer,
        comment="pg_backend_pid() of the run's lock session; a running row whose pid is gone is stale.",
    ),
    # revision 0007: requests over HTTP, step and progress
    Column(
        "requested_at",
        DateTime(timezone=True),
        nullable=False,
        server_default=text("now()"),
        comment="When the run was requested (API) or started (CLI, cron).",
    ),
    Column(
        "options",
        JSONB,
        nullable=False,
        server_default=text("'{}'::jsonb"),
        comment="Recluster options of the run (k, batch_size, seed, scaler, feature flags); {} = defaults.",
    ),
    Column("runner", Text, comment="host:pid of the process that ran it; NULL while requested."),
    Column("step", Text, comment="Current step while running (the last one reached when it ended)."),
    Column("step_index", SmallInteger, comment="1-based number of the current step."),
    Column("step_count", SmallInteger, comment="Number of steps of the run."),
    Column(
        "step_fraction",
        REAL,
        comment="Share of the current step done (0-1) where the step can tell; NULL otherwise.",
    ),
    Column("progress_at", DateTime(timezone=True), comment="When the step or its progress last changed."),
    CheckConstraint("trigger IN ('cron', 'cli', 'api')", name="trigger_known"),
    CheckConstraint("status IN ('requested', 'running', 'succeeded', 'failed')", name="status_known"),
    CheckConstraint("step_fraction BETWEEN 0 AND 1", name="step_fraction_range"),
    # at most one run requested or running: a second request is refused (409) by the database itself
    Index(
        "ux_recluster_runs_one_active",
        text("(true)"),
        unique=True,
        postgresql_where=text("status IN ('requested', 'running')"),
    ),
    comment="Every recluster attempt, successful or not.",
)

scheduler_heartbeats = Table(
    "scheduler_heartbeats",
    metadata,
    Column("scheduler_id", Text, primary_key=True, comment="host:pid:start of the scheduler process."),
    Column("host", Text, nullable=False, comment="Host name of the scheduler process."),
    Column("pid", Integer, nullable=False, comment="Process id on that host."),
    Column("cron", Text, comment="Crontab (UTC) of its scheduled runs."),
    Column(
        "started_at",
        DateTime(timezone=True),
        nullable=False,
        server_default=text("now()"),
        comment="When the process started.",
    ),
    Column(
        "last_seen_at",
        DateTime(timezone=True),
        nullable=False,
        server_default=text("now()"),
        comment="Last heartbeat.",
    ),
    Column(
        "interval_s",
        REAL,
        nullable=False,
        comment="Seconds between heartbeats; silent for 3 intervals = not running.",
    ),
    Column("next_run_at", DateTime(timezone=True), comment="Next scheduled (cron) run."),
    Column("stopped_at", DateTime(timezone=True), comment="Set on a clean shutdown."),
    comment=("One row per scheduler process (`cinecluster scheduler`, the demo's), refreshed while it runs."),
)

# --- scheduler ---------------------------------------------------------------------------

apscheduler_jobs = Table(
    "apscheduler_jobs",
    metadata,
    Column("id", Unicode(191), primary_key=True, comment="Job id (cinecluster uses 'recluster')."),
    Column("next_run_time", Float(25), comment="Next fire time, seconds since the epoch (UTC)."),
    Column("job_state", LargeBinary, nullable=False, comment="APScheduler's pickled job state."),
    comment="APScheduler 3 job store of `cinecluster scheduler` (the schedule survives restarts).",
)
Index("ix_apscheduler_jobs_next_run_time", apscheduler_jobs.c.next_run_time)

# --- per-movie item tables: co-rating neighbours (revision 0004), the item model (0008) ------


def _item_table(
    name: str,
    score: Column,
    co_likes: str,
    *,
    source: str,
    rank: str,
    neighbour: str,
    comment: str,
    names: tuple[str, str, str] = ("co_likes", "neighbour", "neighbour_id"),  # columns: count, prefix, id
) -> Table:
    """item_neighbours and item_weights share their layout: (version, movie, rank) -> a
    neighbour with a score, its co-likes, and the neighbour's cluster and popularity (which the
    live ranking needs per candidate); one partition per version."""
    return Table(
        name,
        metadata,
        Column(
            "version",
            Integer,
            ForeignKey("model_versions.version", ondelete="CASCADE"),
            primary_key=True,
            comment="Model version whose recluster run computed the row.",
        ),
        Column(
            "movie_id",
            Integer,
            ForeignKey("movies.movie_id", ondelete="CASCADE"),
            primary_key=True,
            autoincrement=False,
            comment=source,
        ),
        Column("rank", SmallInteger, primary_key=True, autoincrement=False, comment=rank),
        Column(
            names[2],
            Integer,
            ForeignKey("movies.movie_id", ondelete="CASCADE"),
            nullable=False,
            comment=neighbour,
        ),
        score,
        Column(names[0], Integer, nullable=False, comment=co_likes),
        Column(
            f"{names[1]}_cluster",
            SmallInteger,
            nullable=False,
            comment=f"Cluster of {names[2]} in this version (copied from movie_clusters).",
        ),
        Column(
            f"{names[1]}_log_pop",
            DOUBLE_PRECISION,
            nullable=False,
            comment=f"ln(1 + movie_features.rating_count) of {names[2]} when the version was written.",
        ),
        comment=comment,
        postgresql_partition_by="LIST (version)",
    )


item_neighbours = _item_table(
    "item_neighbours",
    Column(
        "similarity",
        REAL,
        nullable=False,
        comment="Cosine of the two movies' liked-by vectors: co_likes / sqrt(likes(a) * likes(b)).",
    ),
    "Users who liked both (rating >= 4 or >= their own mean), over each user's latest 200 liked.",
    source="Query movie.",
    rank="1 = most similar.",
    neighbour="A movie liked by the same users, in any cluster.",
    comment=(
        "Top-50 co-rating neighbours of each movie over all users' liked ratings, per model version;"
        " the liked_neighbours ranking and the co_liked similar-movies list read it."
    ),
)

item_weights = _item_table(
    "item_weights",
    Column(
        "weight",
        REAL,
        nullable=False,
        comment="EASE weight B[movie, neighbour], rounded to a multiple of 2^-20 (exact sums).",
    ),
    "Users who liked both movies (rating >= 4 or >= their own mean) in the training data.",
    source="A liked movie (the source).",
    rank="1 = largest weight; positive weights first, then negative ones.",
    neighbour="Candidate movie the weight applies to.",
    comment=(
        "EASE item-model weights per model version: for each of the most-liked movies, its largest"
        " weights by absolute value; the default /recommend/user ranking (ease) sums them."
    ),
)

item_successors = _item_table(
    "item_successors",
    Column(
        "weight",
        REAL,
        nullable=False,
        comment="Decayed count / sqrt(its row's sum), scaled to at most 1, a multiple of 2^-20 (exact sums).",
    ),
    "The decayed count (0.9 per step further away), rounded.",
    source="A rated movie (the source).",
    rank="1 = largest weight.",
    neighbour="A movie rated after movie_id by the same users, within their next 20 ratings.",
    comment=(
        "Next-movie successors per model version: for each movie of the item model, the movies users"
        " rate next after it; the default /recommend/user ranking adds them over a user's newest ratings."
    ),
    names=("transitions", "successor", "successor_id"),
)

# --- precomputed default rankings (revision 0005) ----------------------------------------

user_recommendations = Table(
    "user_recommendations",
    metadata,
    Column(
        "version",
        Integer,
        ForeignKey("model_versions.version", ondelete="CASCADE"),
        primary_key=True,
        comment="Model version whose recluster run computed the row.",
    ),
    Column("user_id", Integer, primary_key=True, autoincrement=False, comment="User (ratings.user_id)."),
    Column(
        "movie_ids",
        ARRAY(Integer),
        nullable=False,
        comment="Recommended movies, best first (at most 100; never a movie the user rated).",
    ),
    Column(
        "scores",
        ARRAY(DOUBLE_PRECISION),
        nullable=False,
        comment="Score of each movie in movie_ids (same formula as the live ranking).",
    ),
    Column(
        "source_ids",
        ARRAY(Integer),
        nullable=False,
        comment=(
            "For each movie in movie_ids: the liked movie contributing the largest weight; negated when"
            " the movie owes more to the next-movie component: then the recently rated movie it follows."
        ),
    ),
    Column(
        "cluster_shares",
        ARRAY(DOUBLE_PRECISION),
        nullable=False,
        comment="Share of the user's liked profile per cluster: element c + 1 is cluster c.",
    ),
    Column(
        "refreshed_xid",
        Xid8(),
        nullable=True,
        comment=(
            "NULL: computed by the version's recluster run. Else the user_rating_changes.changed_xid the"
            " scheduler's refresh ranked the user after; the row is current while it is still that value."
        ),
    ),
    comment=(
        "Top of each user's default (ease) ranking per model version, computed by the recluster run and"
        " refreshed by the scheduler after the user rates; served while current (see refreshed_xid)."
    ),
    postgresql_partition_by="LIST (version)",  # one partition per version (revision 0005)
)

# --- which users' ratings changed, for the stored rankings (revision 0006) ----------------


user_rating_changes = Table(
    "user_rating_changes",
    metadata,
    Column(
        "user_id",
        Integer,
        primary_key=True,
        autoincrement=False,
        comment="User whose ratings changed (ratings.user_id; kept after the ratings are deleted).",
    ),
    Column(
        "changed_xid",
        Xid8(),
        nullable=False,
        comment="pg_current_xact_id() of the last transaction that changed the user's ratings.",
    ),
    Column("changed_at", DateTime(timezone=True), nullable=False, comment="Start time of that transaction."),
    comment=(
        "Per user, the last transaction that inserted, updated or deleted any of their ratings (kept by"
        " triggers on ratings). A stored ranking of a version is current while the user has no row here"
        " or the row's changed_xid is visible in model_versions.ratings_snapshot."
    ),
)
