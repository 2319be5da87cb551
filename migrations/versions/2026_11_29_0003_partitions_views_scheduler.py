"""Recluster write path and SQL contract: per-version partitions, admin views, APScheduler's table.

- movie_clusters and movie_neighbours become LIST-partitioned by version. A recluster run
  COPYs a version into its own fresh table and ATTACHes it: foreign keys are then checked by
  one set-based query instead of one trigger call per row (3M neighbour rows at 62k movies),
  and pruning a version drops two tables instead of deleting millions of rows. Readers query
  the parent tables exactly as before.
- Views current_movie_clusters and cluster_summary: the stable SQL contract for DB admins.
- apscheduler_jobs: APScheduler 3's SQLAlchemyJobStore table, owned here so the schema has
  one owner (the job store's own create_all then finds it and does nothing).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CLUSTERS_COLUMNS = """
    version integer NOT NULL,
    movie_id integer NOT NULL,
    cluster smallint NOT NULL,
    distance real NOT NULL,
    CONSTRAINT pk_movie_clusters PRIMARY KEY (version, movie_id),
    CONSTRAINT fk_movie_clusters_version_model_versions FOREIGN KEY (version)
        REFERENCES model_versions (version) ON DELETE CASCADE,
    CONSTRAINT fk_movie_clusters_movie_id_movies FOREIGN KEY (movie_id)
        REFERENCES movies (movie_id) ON DELETE CASCADE
"""
NEIGHBOURS_COLUMNS = """
    version integer NOT NULL,
    movie_id integer NOT NULL,
    rank smallint NOT NULL,
    neighbour_id integer NOT NULL,
    distance real NOT NULL,
    CONSTRAINT pk_movie_neighbours PRIMARY KEY (version, movie_id, rank),
    CONSTRAINT fk_movie_neighbours_version_model_versions FOREIGN KEY (version)
        REFERENCES model_versions (version) ON DELETE CASCADE,
    CONSTRAINT fk_movie_neighbours_movie_id_movies FOREIGN KEY (movie_id)
        REFERENCES movies (movie_id) ON DELETE CASCADE,
    CONSTRAINT fk_movie_neighbours_neighbour_id_movies FOREIGN KEY (neighbour_id)
        REFERENCES movies (movie_id) ON DELETE CASCADE
"""
COMMENTS = {
    "movie_clusters": (
        "Every movie's cluster per version; movies added later are placed on arrival.",
        {
            "version": "Model version.",
            "movie_id": "Movie.",
            "cluster": "Assigned cluster.",
            "distance": "Euclidean distance to the centroid (scaled space).",
        },
    ),
    "movie_neighbours": (
        "Top-50 nearest neighbours of each movie inside its cluster, per version.",
        {
            "version": "Model version.",
            "movie_id": "Query movie.",
            "rank": "1 = most similar.",
            "neighbour_id": "Similar movie in the same cluster.",
            "distance": "Distance in scaled feature space.",
        },
    ),
}
VIEW_COMMENTS = {
    "current_movie_clusters": (
        "Every movie's cluster in the active model version (stable SQL contract for DB admins).",
        {
            "movie_id": "MovieLens movieId.",
            "title": "Title as in MovieLens.",
            "genres": "Genres (text[]); empty for '(no genres listed)'.",
            "cluster": "Cluster in the active version.",
            "distance": "Euclidean distance to the cluster centroid (scaled feature space).",
            "model_version": "The active model version these rows belong to.",
        },
    ),
    "cluster_summary": (
        "One row per cluster of the active version: size, rating statistics, top genres.",
        {
            "cluster": "Cluster id.",
            "movies": "Movies in the cluster.",
            "avg_rating": "Mean rating over all ratings of the cluster's movies (as of the last run).",
            "ratings": "Ratings of the cluster's movies (as of the last recluster run).",
            "top_genres": "The three most frequent genres, most frequent first.",
        },
    ),
}


def _comment(name: str, kind: str, table: str, columns: dict[str, str]) -> None:
    op.execute(f"COMMENT ON {kind} {name} IS '{table}'")
    for column, text in columns.items():
        op.execute(f"COMMENT ON COLUMN {name}.{column} IS '{text.replace(chr(39), chr(39) * 2)}'")


def _rebuild(name: str, columns_sql: str, *, partitioned: bool) -> None:
    """Recreate `name` (plain or partitioned), keeping its rows."""
    op.execute(f"CREATE TEMP TABLE keep_{name} ON COMMIT DROP AS SELECT * FROM {name}")
    op.execute(f"DROP TABLE {name}")
    suffix = " PARTITION BY LIST (version)" if partitioned else ""
    op.execute(f"CREATE TABLE {name} ({columns_sql}){suffix}")
    if name == "movie_clusters":
        op.execute("CREATE INDEX ix_movie_clusters_version_cluster ON movie_clusters (version, cluster)")
    if partitioned:
        versions = op.get_bind().execute(sa.text(f"SELECT DISTINCT version FROM keep_{name}")).scalars()
        for version in versions:
            op.execute(f"CREATE TABLE {name}_v{version} PARTITION OF {name} FOR VALUES IN ({version})")
    op.execute(f"INSERT INTO {name} SELECT * FROM keep_{name}")
    op.execute(f"DROP TABLE keep_{name}")
    table_comment, column_comments = COMMENTS[name]
    _comment(name, "TABLE", table_comment.replace("'", "''"), column_comments)


def upgrade() -> None:
    op.execute("DROP VIEW IF EXISTS cluster_summary, current_movie_clusters")
    _rebuild("movie_clusters", CLUSTERS_COLUMNS, partitioned=True)
    _rebuild("movie_neighbours", NEIGHBOURS_COLUMNS, partitioned=True)

    op.create_table(
        "apscheduler_jobs",
        sa.Column("id", sa.Unicode(191), comment="Job id (cinecluster uses 'recluster')."),
        sa.Column("next_run_time", sa.Float(25), comment="Next fire time, seconds since the epoch (UTC)."),
        sa.Column("job_state", sa.LargeBinary, nullable=False, comment="APScheduler's pickled job state."),
        sa.PrimaryKeyConstraint("id", name="pk_apscheduler_jobs"),
        comment="APScheduler 3 job store of `cinecluster scheduler` (the schedule survives restarts).",
    )
    op.create_index("ix_apscheduler_jobs_next_run_time", "apscheduler_jobs", ["next_run_time"])

    op.execute("""
        CREATE VIEW current_movie_clusters AS
        SELECT mc.movie_id, m.title, m.genres, mc.cluster, mc.distance, mc.version AS model_version
        FROM active_model a
        JOIN movie_clusters mc ON mc.version = a.version
        JOIN movies m ON m.movie_id = mc.movie_id
    """)
    op.execute("""
        CREATE VIEW cluster_summary AS
        SELECT c.cluster,
               count(*)::integer AS movies,
               (sum(f.avg_rating * f.rating_count) / nullif(sum(f.rating_count), 0))::float8
                   AS avg_rating,
               coalesce(sum(f.rating_count), 0)::bigint AS ratings,
               ARRAY(SELECT g.genre
                     FROM current_movie_clusters c2, unnest(c2.genres) AS g(genre)
                     WHERE c2.cluster = c.cluster
                     GROUP BY g.genre
                     ORDER BY count(*) DESC, g.genre
                     LIMIT 3) AS top_genres
        FROM current_movie_clusters c
        LEFT JOIN movie_features f ON f.movie_id = c.movie_id
        GROUP BY c.cluster
        ORDER BY c.cluster
    """)
    for view, (table_comment, column_comments) in VIEW_COMMENTS.items():
        _comment(view, "VIEW", table_comment.replace("'", "''"), column_comments)


def downgrade() -> None:
    op.execute("DROP VIEW cluster_summary")
    op.execute("DROP VIEW current_movie_clusters")
    op.drop_index("ix_apscheduler_jobs_next_run_time", table_name="apscheduler_jobs")
    op.drop_table("apscheduler_jobs")
    _rebuild("movie_neighbours", NEIGHBOURS_COLUMNS, partitioned=False)
    _rebuild("movie_clusters", CLUSTERS_COLUMNS, partitioned=False)
