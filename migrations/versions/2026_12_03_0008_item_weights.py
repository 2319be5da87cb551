"""EASE item weights per model version: the default /recommend/user ranking's item model.

A linear item model (EASE, Steck 2019) fitted by the recluster job on the liked matrix of the
most-liked movies, each movie's row pruned to its largest weights by absolute value (negative
weights kept: they push down what people who liked the movie tend not to like). The default
ranking sums these weights over a user's liked movies (scheduler/item_model.py). Laid out like
item_neighbours (revision 0004): LIST-partitioned by version, COPYed and ATTACHed per run,
carrying the neighbour's cluster and ln(1 + its ratings) for the live ranking.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE_COMMENT = (
    "EASE item-model weights per model version: for each of the most-liked movies, its largest"
    " weights by absolute value; the default /recommend/user ranking (ease) sums them."
)
COLUMN_COMMENTS = {
    "version": "Model version whose recluster run computed the row.",
    "movie_id": "A liked movie (the source).",
    "rank": "1 = largest weight; positive weights first, then negative ones.",
    "neighbour_id": "Candidate movie the weight applies to.",
    "weight": "EASE weight B[movie, neighbour], rounded to a multiple of 2^-20 (exact sums).",
    "co_likes": "Users who liked both movies (rating >= 4 or >= their own mean) in the training data.",
    "neighbour_cluster": "Cluster of neighbour_id in this version (copied from movie_clusters).",
    "neighbour_log_pop": "ln(1 + movie_features.rating_count) of neighbour_id when the version was written.",
}

# The default ranking moves from item_neighbours to item_weights: the comments say so.
RECOMMENTED = {
    "TABLE item_neighbours": (
        "Top-50 co-rating neighbours of each movie over all users' liked ratings, per model version;"
        " the liked_neighbours ranking and the co_liked similar-movies list read it.",
        "Top-50 co-rating neighbours of each movie over all users' liked ratings, per model version;"
        " the default /recommend/user ranking (liked_neighbours) reads it.",
    ),
    "TABLE user_recommendations": (
        "Top of each user's default (ease) ranking per model version, computed by the"
        " recluster run; served while the user's ratings have not changed since (user_rating_changes).",
        "Top of each user's default (liked_neighbours) ranking per model version, computed by the"
        " recluster run; served while the user's ratings have not changed since (user_rating_changes).",
    ),
    "COLUMN user_recommendations.source_ids": (
        "For each movie in movie_ids: the liked movie contributing the largest weight.",
        "For each movie in movie_ids: the liked movie contributing the most similarity.",
    ),
}


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def upgrade() -> None:
    op.execute("""
        CREATE TABLE item_weights (
            version integer NOT NULL,
            movie_id integer NOT NULL,
            rank smallint NOT NULL,
            neighbour_id integer NOT NULL,
            weight real NOT NULL,
            co_likes integer NOT NULL,
            neighbour_cluster smallint NOT NULL,
            neighbour_log_pop double precision NOT NULL,
            CONSTRAINT pk_item_weights PRIMARY KEY (version, movie_id, rank),
            CONSTRAINT fk_item_weights_version_model_versions FOREIGN KEY (version)
                REFERENCES model_versions (version) ON DELETE CASCADE,
            CONSTRAINT fk_item_weights_movie_id_movies FOREIGN KEY (movie_id)
                REFERENCES movies (movie_id) ON DELETE CASCADE,
            CONSTRAINT fk_item_weights_neighbour_id_movies FOREIGN KEY (neighbour_id)
                REFERENCES movies (movie_id) ON DELETE CASCADE
        ) PARTITION BY LIST (version)
    """)
    op.execute(f"COMMENT ON TABLE item_weights IS {_literal(TABLE_COMMENT)}")
    for column, comment in COLUMN_COMMENTS.items():
        op.execute(f"COMMENT ON COLUMN item_weights.{column} IS {_literal(comment)}")
    for target, (new, _old) in RECOMMENTED.items():
        op.execute(f"COMMENT ON {target} IS {_literal(new)}")


def downgrade() -> None:
    for target, (_new, old) in RECOMMENTED.items():
        op.execute(f"COMMENT ON {target} IS {_literal(old)}")
    op.execute("DROP TABLE item_weights")
