"""Staging tables (text columns, as in the file) and the per-reason counts of bad rows."""

from dataclasses import dataclass, field

from sqlalchemy import Connection, text

from loaders.files import SourceFile
from loaders.rules import reason_sql

MAX_EXAMPLES = 5


@dataclass
class Reason:
    count: int
    lines: list[int] = field(default_factory=list)  # up to MAX_EXAMPLES file line numbers


def create_stage(conn: Connection, source: SourceFile) -> str:
    """A temporary table with one text column per header field, dropped at commit or rollback."""
    name = f"stage_{source.kind}"
    columns = ", ".join(f'"{column}" text' for column in source.columns)
    conn.execute(text(f"CREATE TEMP TABLE {name} ({columns}) ON COMMIT DROP"))
    return name


def classify(conn: Connection, source: SourceFile, stage: str) -> dict[str, Reason]:
    """Count staged rows per drop/reject reason; examples only when some row is bad."""
    reason = reason_sql(source.kind, source.used)
    counts = conn.execute(
        text(f"SELECT reason, count(*) FROM (SELECT {reason} AS reason FROM {stage}) s GROUP BY reason")
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
                          FROM {stage}) numbered
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
