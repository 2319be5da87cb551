"""The next-movie component per model version (item_successors), and what the stored lists'
negative source ids mean.

For each movie inside the item model's solve, the movies users rate next after it (within
their next 20 ratings, decayed 0.9 per step), normalised and pruned to the 50 largest
(scheduler/sequence.py). The default ranking adds them up over a user's newest ratings
(ranking/__init__.py). Laid out like item_weights (revision 0008): LIST-partitioned by version,
COPYed and ATTACHed per run, carrying the successor's cluster and ln(1 + its ratings) for the
live ranking.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE_COMMENT = (
    "Next-movie successors per model version: for each movie of the item model, the movies users"
    " rate next after it; the default /recommend/user ranking adds them over a user's newest ratings."
)
COLUMN_COMMENTS = {
    "version": "Model version whose recluster run computed the row.",
    "movie_id": "A rated movie (the source).",
    "rank": "1 = largest weight.",
    "successor_id": "A movie rated after movie_id by the same users, within their next 20 ratings.",
    "weight": "Decayed count / sqrt(its row's sum), scaled to at most 1, a multiple of 2^-20 (exact sums).",
    "transitions": "The decayed count (0.9 per step further away), rounded.",
    "successor_cluster": "Cluster of successor_id in this version (copied from movie_clusters).",
    "successor_log_pop": "ln(1 + movie_features.rating_count) of successor_id when the version was written.",
}
SOURCE_IDS = "COLUMN user_recommendations.source_ids"
SOURCE_COMMENTS = (
    "For each movie in movie_ids: the liked movie contributing the largest weight; negated when"
    " the movie owes more to the next-movie component: then the recently rated movie it follows.",
    "For each movie in movie_ids: the liked movie contributing the largest weight.",
)


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def upgrade() -> None:
    op.execute("""
        CREATE TABLE item_successors (
            version integer NOT NULL,
            movie_id integer NOT NULL,
            rank smallint NOT NULL,
            successor_id integer NOT NULL,
            weight real NOT NULL,
            transitions integer NOT NULL,
            successor_cluster smallint NOT NULL,
            successor_log_pop double precision NOT NULL,
            CONSTRAINT pk_item_successors PRIMARY KEY (version, movie_id, rank),
            CONSTRAINT fk_item_successors_version_model_versions FOREIGN KEY (version)
                REFERENCES model_versions (version) ON DELETE CASCADE,
            CONSTRAINT fk_item_successors_movie_id_movies FOREIGN KEY (movie_id)
                REFERENCES movies (movie_id) ON DELETE CASCADE,
            CONSTRAINT fk_item_successors_successor_id_movies FOREIGN KEY (successor_id)
                REFERENCES movies (movie_id) ON DELETE CASCADE
        ) PARTITION BY LIST (version)
    """)
    op.execute(f"COMMENT ON TABLE item_successors IS {_literal(TABLE_COMMENT)}")
    for column, comment in COLUMN_COMMENTS.items():
        op.execute(f"COMMENT ON COLUMN item_successors.{column} IS {_literal(comment)}")
    op.execute(f"COMMENT ON {SOURCE_IDS} IS {_literal(SOURCE_COMMENTS[0])}")


def downgrade() -> None:
    op.execute(f"COMMENT ON {SOURCE_IDS} IS {_literal(SOURCE_COMMENTS[1])}")
    op.execute("DROP TABLE item_successors")
