"""Clustering: features, model versions, active version, centroids, assignments, neighbours, runs.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ARRAY = postgresql.ARRAY


def _version_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["version"], ["model_versions.version"], ondelete="CASCADE", name=f"fk_{table}_version_model_versions"
    )


def _movie_fk(table: str, column: str = "movie_id") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["movies.movie_id"], ondelete="CASCADE", name=f"fk_{table}_{column}_movies"
    )


def upgrade() -> None:
    op.create_table(
        "movie_features",
        sa.Column("movie_id", sa.Integer, autoincrement=False, comment="Movie."),
        sa.Column(
            "avg_rating", sa.Float, nullable=False, comment="Mean stars; 0 when unrated (team's fillna(0))."
        ),
        sa.Column("rating_count", sa.Integer, nullable=False, comment="Number of ratings; 0 when unrated."),
        sa.Column(
            "genre_flags",
            ARRAY(sa.SmallInteger),
            nullable=False,
            comment="One-hot genres, in the order of model_versions.feature_names.",
        ),
        sa.Column(
            "extra",
            ARRAY(sa.Float),
            nullable=False,
            server_default="{}",
            comment="Optional extra features (log count, Bayesian average...), per the run's options.",
        ),
        sa.PrimaryKeyConstraint("movie_id", name="pk_movie_features"),
        _movie_fk("movie_features"),
        comment="Per-movie feature table rebuilt by every recluster run from SQL aggregates.",
    )

    op.create_table(
        "model_versions",
        sa.Column("version", sa.Integer, autoincrement=False, comment="1, 2, 3... never reused."),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
            comment="When the version was written.",
        ),
        sa.Column("algorithm", sa.Text, nullable=False, comment="Estimator, e.g. MiniBatchKMeans."),
        sa.Column(
            "params",
            postgresql.JSONB,
            nullable=False,
            comment="k, batch size, seed, scaler, feature options.",
        ),
        sa.Column(
            "feature_names",
            ARRAY(sa.Text),
            nullable=False,
            comment="Columns of the feature matrix, in order.",
        ),
        sa.Column(
            "scaler",
            postgresql.JSONB,
            nullable=False,
            comment="Scaler kind and per-column parameters (center/scale) of the numeric features.",
        ),
        sa.Column(
            "metrics",
            postgresql.JSONB,
            nullable=False,
            comment="inertia, silhouette (sampled), davies_bouldin, cluster_sizes, holdout NDCG@10.",
        ),
        sa.Column(
            "data_counts",
            postgresql.JSONB,
            nullable=False,
            comment="movies, ratings, users, tags at training time.",
        ),
        sa.Column(
            "model_joblib", sa.LargeBinary, nullable=False, comment="Fitted pipeline, compressed joblib."
        ),
        sa.Column("model_onnx", sa.LargeBinary, nullable=False, comment="The same model as ONNX (skl2onnx)."),
        sa.Column("joblib_size", sa.Integer, nullable=False, comment="Bytes of model_joblib."),
        sa.Column("onnx_size", sa.Integer, nullable=False, comment="Bytes of model_onnx."),
        sa.Column("joblib_sha256", sa.Text, nullable=False, comment="sha256 hex of model_joblib."),
        sa.Column("onnx_sha256", sa.Text, nullable=False, comment="sha256 hex of model_onnx."),
        sa.PrimaryKeyConstraint("version", name="pk_model_versions"),
        comment="One row per trained model; the last CINECLUSTER_KEEP_VERSIONS are kept.",
    )

    op.create_table(
        "active_model",
        sa.Column(
            "singleton",
            sa.Boolean,
            server_default=sa.text("true"),
            comment="Always true: the table holds at most one row.",
        ),
        sa.Column("version", sa.Integer, nullable=False, comment="The version the API and the views serve."),
        sa.Column(
            "activated_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
            comment="When it became active.",
        ),
        sa.PrimaryKeyConstraint("singleton", name="pk_active_model"),
        sa.ForeignKeyConstraint(
            ["version"], ["model_versions.version"], name="fk_active_model_version_model_versions"
        ),
        sa.CheckConstraint("singleton", name=op.f("ck_active_model_one_row")),
        comment="The active model version; flipping it is one UPDATE, so readers switch atomically.",
    )

    op.create_table(
        "cluster_centroids",
        sa.Column("version", sa.Integer, comment="Model version."),
        sa.Column("cluster", sa.SmallInteger, autoincrement=False, comment="Cluster id 0..k-1."),
        sa.Column(
            "centroid",
            ARRAY(sa.Float),
            nullable=False,
            comment="Centroid in scaled feature space, in the order of feature_names.",
        ),
        sa.Column("size", sa.Integer, nullable=False, comment="Movies assigned at training time."),
        sa.PrimaryKeyConstraint("version", "cluster", name="pk_cluster_centroids"),
        _version_fk("cluster_centroids"),
        comment="Centroids of each version, used to place new movies without unpickling.",
    )

    op.create_table(
        "movie_clusters",
        sa.Column("version", sa.Integer, comment="Model version."),
        sa.Column("movie_id", sa.Integer, autoincrement=False, comment="Movie."),
        sa.Column("cluster", sa.SmallInteger, nullable=False, comment="Assigned cluster."),
        sa.Column(
            "distance", sa.REAL, nullable=False, comment="Euclidean distance to the centroid (scaled space)."
        ),
        sa.PrimaryKeyConstraint("version", "movie_id", name="pk_movie_clusters"),
        _version_fk("movie_clusters"),
        _movie_fk("movie_clusters"),
        comment="Every movie's cluster per version; movies added later are placed on arrival.",
    )
    op.create_index("ix_movie_clusters_version_cluster", "movie_clusters", ["version", "cluster"])

    op.create_table(
        "movie_neighbours",
        sa.Column("version", sa.Integer, comment="Model version."),
        sa.Column("movie_id", sa.Integer, autoincrement=False, comment="Query movie."),
        sa.Column("rank", sa.SmallInteger, autoincrement=False, comment="1 = most similar."),
        sa.Column("neighbour_id", sa.Integer, nullable=False, comment="Similar movie in the same cluster."),
        sa.Column("distance", sa.REAL, nullable=False, comment="Distance in scaled feature space."),
        sa.PrimaryKeyConstraint("version", "movie_id", "rank", name="pk_movie_neighbours"),
        _version_fk("movie_neighbours"),
        _movie_fk("movie_neighbours"),
        _movie_fk("movie_neighbours", "neighbour_id"),
        comment="Top-50 nearest neighbours of each movie inside its cluster, per version.",
    )

    op.create_table(
        "recluster_runs",
        sa.Column("run_id", sa.BigInteger, sa.Identity(), comment="Run id."),
        sa.Column("trigger", sa.Text, nullable=False, comment="cron, cli or api."),
        sa.Column("status", sa.Text, nullable=False, comment="running, succeeded or failed."),
        sa.Column(
            "started_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
            comment="Start time.",
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), comment="End time; NULL while running."),
        sa.Column("version", sa.Integer, comment="Version written by a successful run."),
        sa.Column("error", sa.Text, comment="One-line error of a failed run."),
        sa.Column(
            "backend_pid",
            sa.Integer,
            comment="pg_backend_pid() of the run's lock session; a running row whose pid is gone is stale.",
        ),
        sa.PrimaryKeyConstraint("run_id", name="pk_recluster_runs"),
        sa.CheckConstraint("trigger IN ('cron', 'cli', 'api')", name=op.f("ck_recluster_runs_trigger_known")),
        sa.CheckConstraint(
            "status IN ('running', 'succeeded', 'failed')", name=op.f("ck_recluster_runs_status_known")
        ),
        comment="Every recluster attempt, successful or not.",
    )


def downgrade() -> None:
    for table in (
        "recluster_runs",
        "movie_neighbours",
        "movie_clusters",
        "cluster_centroids",
        "active_model",
        "model_versions",
        "movie_features",
    ):
        op.drop_table(table)
