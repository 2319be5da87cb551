"""Source data: movies, links, ratings, tags.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "movies",
        sa.Column("movie_id", sa.Integer, autoincrement=False, comment="MovieLens movieId."),
        sa.Column("title", sa.Text, nullable=False, comment="Title as in MovieLens, year suffix included."),
        sa.Column(
            "year", sa.SmallInteger, comment="Release year parsed from the title's '(YYYY)'; NULL if absent."
        ),
        sa.Column(
            "genres",
            postgresql.ARRAY(sa.Text),
            nullable=False,
            server_default="{}",
            comment="Genres in MovieLens order; '(no genres listed)' is stored as an empty array.",
        ),
        sa.PrimaryKeyConstraint("movie_id", name="pk_movies"),
        comment="Movies from movies.csv / cleaned_movies.csv, and movies added through POST /movies.",
    )
    op.create_index("ix_movies_genres", "movies", ["genres"], postgresql_using="gin")

    op.create_table(
        "links",
        sa.Column("movie_id", sa.Integer, autoincrement=False, comment="MovieLens movieId."),
        sa.Column("imdb_id", sa.Text, comment="IMDb id digits, as in links.csv (leading zeros kept)."),
        sa.Column("tmdb_id", sa.Integer, comment="The Movie Database id; NULL when links.csv has none."),
        sa.PrimaryKeyConstraint("movie_id", name="pk_links"),
        sa.ForeignKeyConstraint(
            ["movie_id"], ["movies.movie_id"], ondelete="CASCADE", name="fk_links_movie_id_movies"
        ),
        comment="External ids from the optional links.csv.",
    )

    op.create_table(
        "ratings",
        sa.Column("user_id", sa.Integer, autoincrement=False, comment="MovieLens userId."),
        sa.Column("movie_id", sa.Integer, autoincrement=False, comment="Rated movie."),
        sa.Column("rating", sa.REAL, nullable=False, comment="Stars, 0.5 to 5.0 in steps of 0.5."),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False, comment="When the rating was given."),
        sa.PrimaryKeyConstraint("user_id", "movie_id", name="pk_ratings"),
        sa.ForeignKeyConstraint(
            ["movie_id"], ["movies.movie_id"], ondelete="CASCADE", name="fk_ratings_movie_id_movies"
        ),
        sa.CheckConstraint(
            "rating BETWEEN 0.5 AND 5.0 AND rating * 2 = round(rating * 2)",
            name=op.f("ck_ratings_rating_on_star_grid"),
        ),
        comment="One rating per (user, movie); a duplicate keeps the latest timestamp.",
    )
    op.create_index("ix_ratings_movie_id", "ratings", ["movie_id"])

    op.create_table(
        "tags",
        sa.Column("tag_id", sa.BigInteger, sa.Identity(), comment="Surrogate key."),
        sa.Column("user_id", sa.Integer, comment="MovieLens userId; NULL for the team's movieId,tag files."),
        sa.Column("movie_id", sa.Integer, nullable=False, comment="Tagged movie."),
        sa.Column("tag", sa.Text, nullable=False, comment="One trimmed, non-empty tag."),
        sa.Column("ts", sa.DateTime(timezone=True), comment="When the tag was applied; NULL if unknown."),
        sa.PrimaryKeyConstraint("tag_id", name="pk_tags"),
        sa.ForeignKeyConstraint(
            ["movie_id"], ["movies.movie_id"], ondelete="CASCADE", name="fk_tags_movie_id_movies"
        ),
        sa.CheckConstraint("tag <> '' AND tag = btrim(tag)", name=op.f("ck_tags_tag_trimmed_not_empty")),
        comment="Free-text tags; a cell holding 'a|b' is stored as two tags.",
    )
    op.create_index("ix_tags_movie_id", "tags", ["movie_id"])
    op.create_index(
        "uq_tags_natural",
        "tags",
        ["movie_id", "user_id", "tag", "ts"],
        unique=True,
        postgresql_nulls_not_distinct=True,
    )


def downgrade() -> None:
    op.drop_table("tags")
    op.drop_table("ratings")
    op.drop_table("links")
    op.drop_table("movies")
