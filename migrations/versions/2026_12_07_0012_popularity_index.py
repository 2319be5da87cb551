"""The most rated movies in order: an index on movie_features (rating_count DESC, movie_id).

The ranking goes on with the most rated movies when its candidates run out; for a visitor with an
empty basket (POST /recommend/session) and `/recommend/user/{id}?fallback=popular` that list is
the whole answer. Without the index each such page sorted every movie's features (62,000 at
MovieLens 25M); with it, a page reads its first entries in order (benchmarks/sessions.py).
The recluster run replaces the table's rows (DELETE + COPY), so the index stays.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE INDEX ix_movie_features_popularity ON movie_features (rating_count DESC, movie_id)")


def downgrade() -> None:
    op.execute("DROP INDEX ix_movie_features_popularity")
