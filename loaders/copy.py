"""Stream one CSV file into a staging table with COPY, in blocks; never the whole file in memory.

PostgreSQL's COPY errors carry the file line in their CONTEXT ("COPY stage, line 7, column
rating: ..."); they become one-line UserErrors naming the file, the line and the problem.
"""

import logging
import re
from collections.abc import Callable

import psycopg
from psycopg import sql

from cinecluster.errors import UserError
from loaders.files import SourceFile

BLOCK_SIZE = 1 << 20  # 1 MiB: large enough for COPY throughput, small enough for memory

# psycopg logs a warning when it aborts a COPY after an error; the error itself is reported
# as one line by the CLI, so the warning would only be noise on stderr.
logging.getLogger("psycopg").addHandler(logging.NullHandler())


class NotANumber(Exception):
    """A value in a typed staging column did not parse: stage the file as text instead."""


# COPY errors that mean "a value does not fit the typed staging column", not "malformed file"
_TYPE_ERRORS = (psycopg.errors.InvalidTextRepresentation, psycopg.errors.NumericValueOutOfRange)

_CONTEXT_LINE = re.compile(r"line (\d+)(?:, column (\w+))?")
_COLUMN = re.compile(r'column "?(\w+)"?')


def copy_file(cursor: psycopg.Cursor, table: str, source: SourceFile, on_bytes: Callable[[int], None]) -> int:
    """COPY `source` into `table` (text columns named source.columns); returns rows copied."""
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv, HEADER true, ENCODING 'UTF8')").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, source.columns))
    )
    lines = 0
    last = b"\n"
    try:
        with source.path.open("rb") as stream, cursor.copy(statement) as copy:
            while block := stream.read(BLOCK_SIZE):
                copy.write(block)
                lines += block.count(b"\n")
                last = block[-1:]
                on_bytes(len(block))
    except _TYPE_ERRORS:
        if last == b"\n":
            raise NotANumber from None
        # a cut-off last line can leave a half number: report the truncation, not the number
        raise UserError(
            f"{source.path}: line {lines + 1}: truncated last line (no line break at the end)"
        ) from None
    except psycopg.Error as error:
        truncated = last != b"\n"
        raise _user_error(error, source, lines + 1 if truncated else None) from None
    if last != b"\n":
        # MovieLens and pandas both end files with a line break; a file without one was cut off.
        raise UserError(f"{source.path}: line {lines + 1}: truncated last line (no line break at the end)")
    return cursor.rowcount


def _user_error(error: psycopg.Error, source: SourceFile, truncated_line: int | None) -> UserError:
    """One line from a COPY error: file, line, problem (staging column names mapped back)."""
    diag = error.diag
    problem = (diag.message_primary or str(error)).strip().splitlines()[0]
    match = _CONTEXT_LINE.search(diag.context or "")
    line = int(match.group(1)) if match else None
    if truncated_line is not None and line in (None, truncated_line):
        return UserError(f"{source.path}: line {truncated_line}: truncated last line ({problem})")
    if problem.startswith("unterminated CSV quoted field"):
        # PostgreSQL reports the end of the file; the line where the open quote starts helps more
        line = _open_quote_line(source) or line
        problem = 'unterminated quoted field (a " opened here is never closed)'
    names = dict(zip(source.columns, source.header, strict=True))
    problem = _COLUMN.sub(lambda m: f'column "{names.get(m.group(1), m.group(1))}"', problem)
    if problem.startswith("invalid byte sequence"):
        problem = f"invalid UTF-8 ({problem})"
    where = f"line {line}: " if line is not None else ""
    return UserError(f"{source.path}: {where}{problem}")


def _open_quote_line(source: SourceFile) -> int | None:
    """The line where the quoted field that never closes begins (scanned only after an error)."""
    inside, start = False, None
    with source.path.open("rb") as stream:
        for number, line in enumerate(stream, start=1):
            if line.count(b'"') % 2:
                inside = not inside
                start = number if inside else start
    return start if inside else None
