"""`cinecluster export-recommendations`: every user's stored list of the active version, to a file.

One row per (user, rank): userId, rank, movieId, score, sourceMovieId (the liked movie the item
owes most to) and justRated (true: it owes more to the next-movie component, and the source is
the recently rated movie it follows; the stored list's negative source id); hidden movies are
left out, as the API leaves them out. Read through a
server-side cursor in blocks and written as it comes, so memory stays flat whatever the number
of users (at 162k users that is 16M rows). CSV always; Parquet when pyarrow can be imported
(the `spark` extra brings it).
"""

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import Connection

from cinecluster.db import raw_connection
from cinecluster.errors import UserError
from cinecluster.tables import active_model

COLUMNS = ("userId", "rank", "movieId", "score", "sourceMovieId", "justRated")
BLOCK_ROWS = 50_000  # rows per fetch from the server-side cursor and per Parquet row group

# Users in primary-key order (an index scan: a cursor plans for its first rows), each list in
# its stored order without the hidden movies (movies.hidden: never recommended, so never sent
# either), ranked again from 1 without them.
LISTS_SQL = """
    WITH hidden AS MATERIALIZED (SELECT ARRAY(SELECT h.movie_id FROM movies h WHERE h.hidden) AS ids)
    SELECT u.user_id, l.rank, l.movie_id, l.score, abs(l.source_id), l.source_id < 0
    FROM user_recommendations u
    CROSS JOIN LATERAL (
        SELECT row_number() OVER (ORDER BY p.position) AS rank, p.movie_id, p.score, p.source_id
        FROM unnest(u.movie_ids, u.scores, u.source_ids)
             WITH ORDINALITY AS p(movie_id, score, source_id, position)
        WHERE p.movie_id <> ALL (CAST((SELECT ids FROM hidden) AS integer[]))
    ) l
    WHERE u.version = %(version)s
    ORDER BY u.user_id, l.rank
"""


@dataclass(frozen=True, slots=True)
class Exported:
    version: int
    users: int
    rows: int


def parquet_available() -> bool:
    try:
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        return False
    return True


def _blocks(conn: Connection, version: int) -> Iterator[list[tuple[Any, ...]]]:
    # a named cursor lives in the connection's transaction (SQLAlchemy began one)
    with raw_connection(conn).cursor(name="export_recommendations") as cursor:
        cursor.itersize = BLOCK_ROWS
        cursor.execute(LISTS_SQL, {"version": version})
        while block := cursor.fetchmany(BLOCK_ROWS):
            yield block


def active_or_error(conn: Connection) -> int:
    """The active version; none yet is a one-line error (before any file is opened)."""
    version = conn.execute(active_model.select()).scalar_one_or_none()
    if version is None:
        raise UserError("no model yet: run `cinecluster recluster` first")
    return int(version)


def write_csv(conn: Connection, out: BinaryIO) -> Exported:
    version = active_or_error(conn)
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(COLUMNS)
    users, rows, last = 0, 0, None
    for block in _blocks(conn, version):
        writer.writerows(block)
        rows += len(block)
        users += len({r[0] for r in block} - {last})
        last = block[-1][0]
    text.detach()  # leave `out` open for the caller
    return Exported(version, users, rows)


def write_parquet(conn: Connection, path: Path) -> Exported:
    import pyarrow as pa
    import pyarrow.parquet as pq

    version = active_or_error(conn)
    schema = pa.schema(
        [
            ("userId", pa.int32()),
            ("rank", pa.int32()),
            ("movieId", pa.int32()),
            ("score", pa.float64()),
            ("sourceMovieId", pa.int32()),
            ("justRated", pa.bool_()),
        ]
    )
    users, rows, last = 0, 0, None
    with pq.ParquetWriter(path, schema) as writer:
        for block in _blocks(conn, version):
            columns = list(zip(*block, strict=True))
            writer.write_table(
                pa.Table.from_arrays(
                    [pa.array(c, t) for c, t in zip(columns, schema.types, strict=True)], schema=schema
                )
            )
            rows += len(block)
            users += len(set(columns[0]) - {last})
            last = block[-1][0]
    return Exported(version, users, rows)
