"""The fast path for a replace-mode ratings load: the common case of a clean file.

One plain INSERT ... SELECT from the typed staging table (no sort, no per-row key checks),
then the primary key, the movie_id index and the foreign key are built once. If any row is
bad, two rows share a (user, movie), or a movie is unknown, the index builds fail or the
counts differ: everything rolls back to a savepoint and the caller takes the full path
(classify with reasons, DISTINCT ON to keep the latest rating). Measured in docs/benchmarks.md.
"""

import psycopg
from sqlalchemy import Connection, text

from loaders.indexes import without_indexes
from loaders.stage import Stage


class _NotClean(Exception):
    pass


def replace_clean_ratings(conn: Connection, stage: Stage) -> int | None:
    """Rows loaded if the staged file is clean; None (and nothing changed) otherwise."""
    if not stage.typed:
        return None
    try:
        with conn.begin_nested():
            conn.execute(text("TRUNCATE ratings"))  # a fresh heap: a rollback leaves no dead rows behind
            with without_indexes(conn, "ratings"):
                inserted = conn.execute(
                    text(
                        f"""
                        INSERT INTO ratings (user_id, movie_id, rating, ts)
                        SELECT user_id, movie_id, rating, to_timestamp(ts) FROM {stage.table}
                        WHERE user_id >= 0 AND movie_id >= 0 AND ts >= 0
                          AND rating BETWEEN 0.5 AND 5.0 AND rating * 2 = round(rating * 2)
                        """
                    )
                ).rowcount
                if inserted != stage.rows:
                    raise _NotClean
            # leaving without_indexes built the keys: a duplicate or an unknown movie raised there
    except (_NotClean, psycopg.errors.UniqueViolation, psycopg.errors.ForeignKeyViolation):
        return None
    return inserted
