"""Queries are written with SQLAlchemy Core (or text()) and compiled ONCE to psycopg's SQL.

Executing through SQLAlchemy costs more per request than the queries themselves (measured in
docs/benchmarks.md, API section), so the request path runs the compiled strings on a plain
psycopg connection; psycopg prepares them server-side after a few uses.
"""

from dataclasses import dataclass
from typing import Any

import psycopg
import sqlalchemy
from psycopg.rows import namedtuple_row
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.sql import ClauseElement

from cinecluster.db import raw_connection

_DIALECT = PGDialect_psycopg()

Params = dict[str, Any]
# The API passes psycopg connections; offline tools may pass a SQLAlchemy one (its driver
# connection is used, inside its transaction), so strategies serve both unchanged.
DbConnection = psycopg.Connection | sqlalchemy.Connection


def as_psycopg(conn: DbConnection) -> psycopg.Connection:
    return raw_connection(conn) if isinstance(conn, sqlalchemy.Connection) else conn


@dataclass(frozen=True, slots=True)
class Query:
    """Compiled SQL plus the values of literals SQLAlchemy turned into parameters."""

    sql: str
    defaults: Params
    # None: psycopg prepares it after 5 uses (saves parse + plan on hot lookups). False for
    # queries whose best plan depends on the parameters (a prepared statement may switch to
    # PostgreSQL's generic plan, which does not know them): planned per execution.
    prepare: bool | None = None

    def params(self, given: Params | None) -> Params:
        return {**self.defaults, **given} if given else dict(self.defaults)


def compile_sql(stmt: ClauseElement, *, prepare: bool | None = None) -> Query:
    """`%(name)s`-style SQL; pass the statement's named bindparams at execution."""
    compiled = stmt.compile(dialect=_DIALECT)
    return Query(str(compiled), {k: v for k, v in compiled.params.items() if v is not None}, prepare)


def _execute(cur: psycopg.Cursor[Any], query: Query | str, params: Params | None) -> psycopg.Cursor[Any]:
    if isinstance(query, Query):
        return cur.execute(query.sql, query.params(params), prepare=query.prepare)
    return cur.execute(query, params)


def fetch_all(conn: DbConnection, query: Query | str, params: Params | None = None) -> list[Any]:
    with as_psycopg(conn).cursor(row_factory=namedtuple_row) as cur:
        return _execute(cur, query, params).fetchall()


def fetch_one(conn: DbConnection, query: Query | str, params: Params | None = None) -> Any | None:
    with as_psycopg(conn).cursor(row_factory=namedtuple_row) as cur:
        return _execute(cur, query, params).fetchone()


def fetch_value(conn: DbConnection, query: Query | str, params: Params | None = None) -> Any:
    with as_psycopg(conn).cursor() as cur:
        row = _execute(cur, query, params).fetchone()
        return row[0] if row else None


async def afetch_all(conn: psycopg.AsyncConnection, query: Query, params: Params | None = None) -> list[Any]:
    """fetch_all for the `async def` hot paths (service.database.AsyncPool)."""
    async with conn.cursor(row_factory=namedtuple_row) as cur:
        await cur.execute(query.sql, query.params(params), prepare=query.prepare)
        return await cur.fetchall()
