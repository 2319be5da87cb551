"""Global co-rating neighbours per model version (item-kNN on liked ratings).

LIST-partitioned by version like movie_neighbours (revision 0003): a recluster run COPYs its
rows into a fresh table and ATTACHes it, so foreign keys are checked by one set-based query
and pruning a version drops its partition. ~50 rows per movie: ~3M rows at 62k movies.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE_COMMENT = (
    "Top-50 co-rating neighbours of each movie over all users' liked ratings, per model version;"
    " the default /recommend/user ranking (liked_neighbours) reads it."
)
COLUMN_COMMENTS = {
    "version": "Model version whose recluster run computed the row.",
    "movie_id": "Query movie.",
    "rank": "1 = most similar.",
    "neighbour_id": "A movie liked by the same users, in any cluster.",
    "similarity": "Cosine of the two movies' liked-by vectors: co_likes / sqrt(likes(a) * likes(b)).",
    "co_likes": "Users who liked both (rating >= 4 or >= their own mean), over each user's latest 200 liked.",
}


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def upgrade() -> None:
    op.execute("""
        CREATE TABLE item_neighbours (
            version integer NOT NULL,
            movie_id integer NOT NULL,
            rank smallint NOT NULL,
            neighbour_id integer NOT NULL,
            similarity real NOT NULL,
            co_likes integer NOT NULL,
            CONSTRAINT pk_item_neighbours PRIMARY KEY (version, movie_id, rank),
            CONSTRAINT fk_item_neighbours_version_model_versions FOREIGN KEY (version)
                REFERENCES model_versions (version) ON DELETE CASCADE,
            CONSTRAINT fk_item_neighbours_movie_id_movies FOREIGN KEY (movie_id)
                REFERENCES movies (movie_id) ON DELETE CASCADE,
            CONSTRAINT fk_item_neighbours_neighbour_id_movies FOREIGN KEY (neighbour_id)
                REFERENCES movies (movie_id) ON DELETE CASCADE
        ) PARTITION BY LIST (version)
    """)
    op.execute(f"COMMENT ON TABLE item_neighbours IS {_literal(TABLE_COMMENT)}")
    for column, comment in COLUMN_COMMENTS.items():
        op.execute(f"COMMENT ON COLUMN item_neighbours.{column} IS {_literal(comment)}")


def downgrade() -> None:
    op.execute("DROP TABLE item_neighbours")
