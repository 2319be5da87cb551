"""Row counts for `/` (the active version: cinecluster.activation)."""

import psycopg
from sqlalchemy import func, select, text

from cinecluster.tables import movies
from service.sql import compile_sql, fetch_one, fetch_value

EXACT_BELOW = 1_000_000  # count(*) of 25M ratings takes seconds; the planner's estimate is instant

MOVIE_COUNT = compile_sql(select(func.count()).select_from(movies))
ESTIMATE = compile_sql(
    text(
        "SELECT greatest(reltuples, 0)::bigint AS n, reltuples < 0 AS unknown"
        " FROM pg_class WHERE oid = CAST(:t AS regclass)"
    )
)
EXACT = {t: f"SELECT count(*) FROM {t}" for t in ("ratings", "tags")}


def _count(conn: psycopg.Connection, table: str) -> int:
    row = fetch_one(conn, ESTIMATE, {"t": table})
    if row is None or row.unknown or row.n < EXACT_BELOW:
        return int(fetch_value(conn, EXACT[table]))
    return int(row.n)


def row_counts(conn: psycopg.Connection) -> dict[str, int]:
    return {
        "movies": int(fetch_value(conn, MOVIE_COUNT)),
        "ratings": _count(conn, "ratings"),
        "tags": _count(conn, "tags"),
    }
