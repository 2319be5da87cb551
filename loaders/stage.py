"""Staging tables (text columns, as in the file) and the per-reason counts of bad rows."""

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Connection, text

from cinecluster.db import raw_connection
from loaders.copy import NotANumber, copy_file
from loaders.files import SourceFile
from loaders.rules import TYPED, reason_sql

MAX_EXAMPLES = 5


@dataclass
class Reason:
    count: int
    lines: list[int] = field(default_factory=list)  # up to MAX_EXAMPLES file line numbers


@dataclass(frozen=True)
class Stage:
    table: str
    typed: bool  # numbers parsed by COPY (fast path) or kept as text (a value did not parse)
    rows: int  # data rows copied


def stage_file(conn: Connection, source: SourceFile, on_bytes: Callable[[int], None]) -> Stage:
    """COPY the file into a new staging table: typed columns first, text columns if that fails.

    UNLOGGED: no WAL for data that lives one transaction; unlike a TEMP table it uses shared
    buffers and parallel scans. Created inside the load's transaction, so nobody else sees it,
    and a rollback removes it; drop_stage removes it before commit.
    """
    pg = raw_connection(conn)
    table = f"cinecluster_stage_{source.kind}_{pg.info.backend_pid}"
    try:
        with conn.begin_nested():
            _create(conn, table, source, typed=True)
            with pg.cursor() as cursor:
                rows = copy_file(cursor, table, source, on_bytes)
        typed = True
    except NotANumber:
        _create(conn, table, source, typed=False)
        with pg.cursor() as cursor:
            rows = copy_file(cursor, table, source, lambda _n: None)
        typed = False
    return Stage(table, typed, rows)


def drop_stage(conn: Connection, stage: Stage) -> None:
    conn.execute(text(f"DROP TABLE {stage.table}"))


def _create(conn: Connection, table: str, source: SourceFile, typed: bool) -> None:
    types = TYPED if typed else {}
    columns = ", ".join(f'"{column}" {types.get(column, "text")}' for column in source.columns)
    conn.execute(text(f"CREATE UNLOGGED TABLE {table} ({columns})"))


def classify(conn: Connection, source: SourceFile, stage: Stage) -> dict[str, Reason]:
    """Count staged rows per drop/reject reason; examples only when some row is bad."""
    # without statistics the planner takes the fresh table for tiny and probes movies per row
    conn.execute(text(f"ANALYZE {stage.table}"))
    reason = reason_sql(source.kind, source.used, stage.typed)
    counts = conn.execute(
        text(f"SELECT reason, count(*) FROM (SELECT {reason} AS reason FROM {stage.table}) s GROUP BY reason")
    ).all()
    reasons = {name: Reason(count) for name, count in counts if name is not None}
    if reasons:
        # A staging table filled by one COPY holds its rows in file order, so the row number in
        # ctid order + 1 (the header) is the line (for files without line breaks inside quotes).
        examples = conn.execute(
            text(
                f"""
                SELECT reason, line FROM (
                    SELECT reason, line, row_number() OVER (PARTITION BY reason ORDER BY line) AS n
                    FROM (SELECT {reason} AS reason, row_number() OVER (ORDER BY ctid) + 1 AS line
                          FROM {stage.table}) numbered
                    WHERE reason IS NOT NULL
                ) ranked
                WHERE n <= {MAX_EXAMPLES}
                ORDER BY reason, line
                """
            )
        ).all()
        for name, line in examples:
            reasons[name].lines.append(line)
    return reasons
