"""Drop a table's indexes and key constraints for a bulk insert, then rebuild them.

Building a btree once over sorted rows is several times faster than maintaining it row by
row, and one foreign-key validation query beats millions of per-row trigger checks. All of
this is transactional in PostgreSQL: if the load fails, the rollback restores everything.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, text

from cinecluster.db import raw_connection


@dataclass(frozen=True)
class _Definition:
    name: str
    ddl: str  # statement that recreates it
    comment: str | None
    comment_ddl: str


_CONSTRAINTS = text(
    """
    SELECT conname, contype, pg_get_constraintdef(oid), obj_description(oid, 'pg_constraint')
    FROM pg_constraint
    WHERE conrelid = CAST(:table AS regclass) AND contype IN ('p', 'u', 'f', 'x')
    ORDER BY contype = 'f', conname
    """
)
_INDEXES = text(
    """
    SELECT c.relname, pg_get_indexdef(i.indexrelid), obj_description(i.indexrelid, 'pg_class')
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
    WHERE i.indrelid = CAST(:table AS regclass)
      AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
    ORDER BY c.relname
    """
)
_REFERENCED = text("SELECT count(*) FROM pg_constraint WHERE confrelid = CAST(:table AS regclass)")


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@contextmanager
def without_indexes(conn: Connection, table: str) -> Iterator[None]:
    """Inside the block `table` has no indexes or keys (unless another table references it)."""
    if conn.execute(_REFERENCED, {"table": table}).scalar_one():
        yield  # dropping a referenced key would need CASCADE: keep everything, insert slower
        return
    constraints = [
        _Definition(
            name,
            f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}',
            comment,
            f'COMMENT ON CONSTRAINT "{name}" ON {table} IS ',
        )
        for name, _type, definition, comment in conn.execute(_CONSTRAINTS, {"table": table})
    ]
    indexes = [
        _Definition(name, definition, comment, f'COMMENT ON INDEX "{name}" IS ')
        for name, definition, comment in conn.execute(_INDEXES, {"table": table})
    ]
    pg = raw_connection(conn)  # DDL from the catalog verbatim: no bind-parameter parsing
    for constraint in reversed(constraints):  # foreign keys first
        pg.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{constraint.name}"')
    for index in indexes:
        pg.execute(f'DROP INDEX "{index.name}"')
    yield
    for definition in [*constraints, *indexes]:
        pg.execute(definition.ddl)
        if definition.comment is not None:
            pg.execute(definition.comment_ddl + _quote(definition.comment))
