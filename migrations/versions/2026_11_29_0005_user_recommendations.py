"""Each user's default recommendations, precomputed by the recluster run, per model version.

The default ranking (liked_neighbours) sums the co-rating neighbours of up to 500 liked movies
per request: tens of thousands of rows for a heavy user. The recluster run ranks every user once
(in numpy, with the API's formula) and stores the top of the list here, with a fingerprint of
the ratings it was computed from. The API serves a row only while the user's ratings still match
the fingerprint; a user who rated anything since gets the same ranking computed live. LIST-
partitioned by version like item_neighbours (0004): pruning a version drops its partition.

item_neighbours also gains the neighbour's cluster and ln(1 + its ratings), so the live
ranking aggregates one table and looks movies up only for the page (it joined movies,
movie_clusters and movie_features for every candidate: thousands of lookups per request).
Existing versions are backfilled from their own movie_clusters and the current movie_features.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE_COMMENT = (
    "Top of each user's default (liked_neighbours) ranking per model version, computed by the"
    " recluster run; valid while the user's ratings match rating_count and ratings_checksum."
)
COLUMN_COMMENTS = {
    "version": "Model version whose recluster run computed the row.",
    "user_id": "User (ratings.user_id).",
    "rating_count": "The user's ratings when the row was computed.",
    "ratings_checksum": (
        "sum over the user's ratings of (movie_id * 1000003 + rating * 2 * 10007 +"
        " floor(epoch of ts)) % 2147483647: any added, removed or changed rating changes it."
    ),
    "movie_ids": "Recommended movies, best first (at most 100; never a movie the user rated).",
    "scores": "Score of each movie in movie_ids (same formula as the live ranking).",
    "source_ids": "For each movie in movie_ids: the liked movie contributing the most similarity.",
    "cluster_shares": "Share of the user's liked profile per cluster: element c + 1 is cluster c.",
}


NEIGHBOUR_COLUMN_COMMENTS = {
    "neighbour_cluster": "Cluster of neighbour_id in this version (copied from movie_clusters).",
    "neighbour_log_pop": "ln(1 + movie_features.rating_count) of neighbour_id when the version was written.",
}


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def upgrade() -> None:
    op.execute("""
        CREATE TABLE user_recommendations (
            version integer NOT NULL,
            user_id integer NOT NULL,
            rating_count integer NOT NULL,
            ratings_checksum bigint NOT NULL,
            movie_ids integer[] NOT NULL,
            scores double precision[] NOT NULL,
            source_ids integer[] NOT NULL,
            cluster_shares double precision[] NOT NULL,
            CONSTRAINT pk_user_recommendations PRIMARY KEY (version, user_id),
            CONSTRAINT fk_user_recommendations_version_model_versions FOREIGN KEY (version)
                REFERENCES model_versions (version) ON DELETE CASCADE
        ) PARTITION BY LIST (version)
    """)
    op.execute(f"COMMENT ON TABLE user_recommendations IS {_literal(TABLE_COMMENT)}")
    for column, comment in COLUMN_COMMENTS.items():
        op.execute(f"COMMENT ON COLUMN user_recommendations.{column} IS {_literal(comment)}")

    op.execute(
        "ALTER TABLE item_neighbours ADD COLUMN neighbour_cluster smallint,"
        " ADD COLUMN neighbour_log_pop double precision"
    )
    op.execute("""
        UPDATE item_neighbours n
        SET neighbour_cluster = mc.cluster,
            neighbour_log_pop = ln(1 + coalesce(
                (SELECT f.rating_count FROM movie_features f WHERE f.movie_id = n.neighbour_id), 0))
        FROM movie_clusters mc
        WHERE mc.version = n.version AND mc.movie_id = n.neighbour_id
    """)
    op.execute(
        "ALTER TABLE item_neighbours ALTER COLUMN neighbour_cluster SET NOT NULL,"
        " ALTER COLUMN neighbour_log_pop SET NOT NULL"
    )
    for column, comment in NEIGHBOUR_COLUMN_COMMENTS.items():
        op.execute(f"COMMENT ON COLUMN item_neighbours.{column} IS {_literal(comment)}")


def downgrade() -> None:
    op.execute("ALTER TABLE item_neighbours DROP COLUMN neighbour_cluster, DROP COLUMN neighbour_log_pop")
    op.execute("DROP TABLE user_recommendations")
