"""Hidden movies: never recommended, still trained on.

`movies.hidden` is set by `PATCH /movies/{id}` (admin) or by SQL. Every recommendation list
leaves hidden movies out when it is read (the stored lists too: no recluster needed), while
their ratings keep counting in the model, the features and the clusters, and the movie keeps
its own pages. The partial index holds only the hidden movies: the API reads them as one small
array per request (service/recommenders/skip.py), an index scan of a few entries.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HIDDEN_COMMENT = (
    "True: never recommended by any route or strategy (stored lists are filtered when read);"
    " its ratings still count in training and it keeps its own pages. Set by PATCH /movies/{id}."
)


def upgrade() -> None:
    # a constant default: PostgreSQL 11+ adds the column without rewriting the table
    op.execute("ALTER TABLE movies ADD COLUMN hidden boolean NOT NULL DEFAULT false")
    op.execute(f"COMMENT ON COLUMN movies.hidden IS '{HIDDEN_COMMENT}'")
    op.execute("CREATE INDEX ix_movies_hidden ON movies (movie_id) WHERE hidden")


def downgrade() -> None:
    op.execute("DROP INDEX ix_movies_hidden")
    op.execute("ALTER TABLE movies DROP COLUMN hidden")
