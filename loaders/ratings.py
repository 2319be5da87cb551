"""The fast paths for a replace-mode ratings load: the common case of a clean file.

1. `replace_plain_ratings`: a file of plain lines (loaders/binrows.py) goes straight into the
   emptied, unindexed `ratings` table with one binary COPY, no staging table at all.
2. `replace_clean_ratings`: a staged file goes in with one plain INSERT ... SELECT (no sort,
   no per-row key checks).
Either way the primary key, the foreign key and the movie_id index are built once at the end.
If any row is bad, two rows share a (user, movie), or a movie is unknown, the line check, the
key builds or the counts fail: everything rolls back to a savepoint and the caller takes the
next path, finally the full one (classify with reasons, DISTINCT ON to keep the latest
rating). Measured in docs/benchmarks.md.
"""

import contextlib
import threading
from collections.abc import Callable, Generator, Iterator
from queue import Full, Queue
from typing import BinaryIO, TypeVar, cast

import psycopg
from sqlalchemy import Connection, text

from cinecluster.db import raw_connection
from loaders.files import SourceFile
from loaders.indexes import without_indexes
from loaders.stage import Stage

PLAIN_COLUMNS = ("user_id", "movie_id", "rating", "ts")  # the MovieLens header, in its order
BLOCK_SIZE = 2 << 20  # bytes per conversion: numpy temporaries stay well under 100 MB
_HEADER_LIMIT = 64 * 1024
_AHEAD = 2  # converted blocks waiting for the COPY: a few MB, and the server never waits for numpy
_T = TypeVar("_T")
_KEY_ERRORS = (psycopg.errors.UniqueViolation, psycopg.errors.ForeignKeyViolation)
# FREEZE refused (a cursor or an older snapshot held in this transaction): take the general path
_FREEZE_REFUSED = psycopg.errors.ObjectNotInPrerequisiteState


class _NotClean(Exception):
    pass


def replace_plain_ratings(
    conn: Connection, source: SourceFile, on_bytes: Callable[[int], None]
) -> int | None:
    """Rows loaded if the file is plain and clean; None (nothing changed, no net progress) otherwise."""
    if source.columns != PLAIN_COLUMNS:
        return None
    from loaders import binrows  # numpy: imported only when a ratings file is loaded

    sent = 0
    try:
        with conn.begin_nested():
            conn.execute(text("TRUNCATE ratings"))  # a fresh heap: a rollback leaves no dead rows behind
            with without_indexes(conn, "ratings"):
                pg = raw_connection(conn)
                # FREEZE (allowed: truncated in this subtransaction): rows written frozen and pages
                # all-visible, so the key builds and the first readers do not set hint bits later
                statement = "COPY ratings (user_id, movie_id, rating, ts) FROM STDIN (FORMAT binary, FREEZE)"
                rows = 0
                with source.path.open("rb") as stream, pg.cursor() as cursor, cursor.copy(statement) as copy:
                    header = stream.readline(_HEADER_LIMIT)  # checked by read_header
                    if not header.endswith(b"\n"):
                        raise _NotClean
                    sent += len(header)
                    on_bytes(len(header))
                    copy.write(binrows.HEADER)
                    # converted by a thread while this one waits for the server to take the last block
                    with contextlib.closing(_read_ahead(_converted(stream, binrows.encode))) as blocks:
                        for encoded, size in blocks:
                            copy.write(encoded)
                            rows += len(encoded) // binrows.ROW.itemsize
                            sent += size
                            on_bytes(size)
                    copy.write(binrows.TRAILER)
            # leaving without_indexes built the keys: a duplicate or an unknown movie raised there
    except (_NotClean, _FREEZE_REFUSED, *_KEY_ERRORS):
        on_bytes(-sent)  # the general path reads the file again
        return None
    return rows


def _converted(stream: BinaryIO, encode: Callable[[bytes], bytes | None]) -> Iterator[tuple[bytes, int]]:
    """(binary COPY rows, file bytes they came from) per block of whole lines; _NotClean if not plain."""
    rest = b""
    while block := stream.read(BLOCK_SIZE):
        block = rest + block
        cut = block.rfind(b"\n") + 1
        rest = block[cut:]
        encoded = encode(block[:cut])
        if encoded is None:
            raise _NotClean
        yield encoded, cut
    if rest:  # a last line without a line break: the general path names it
        raise _NotClean


def _read_ahead(items: Iterator[_T], depth: int = _AHEAD) -> Generator[_T, None, None]:
    """The items of `items`, produced by a thread up to `depth` ahead; its exception re-raised here.

    The numpy conversion releases the GIL, so it runs on the other core while this thread waits
    in the COPY write for the server to take the previous block. Close the generator to stop
    the thread early (a COPY error).
    """
    queue: Queue[tuple[bool, object]] = Queue(maxsize=depth)
    stop = threading.Event()

    def offer(entry: tuple[bool, object]) -> bool:
        """Queue `entry` unless the consumer has stopped (False then)."""
        while not stop.is_set():
            try:
                queue.put(entry, timeout=0.1)
                return True
            except Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer((True, item)):
                    return
        except BaseException as error:  # handed to the consumer, which raises it
            offer((False, error))
        else:
            offer((False, None))

    producer = threading.Thread(target=produce, name="ratings-convert", daemon=True)
    producer.start()
    try:
        while True:
            more, value = queue.get()
            if more:
                yield cast(_T, value)  # queued by produce() as (True, an item of `items`)
            elif isinstance(value, BaseException):
                raise value
            else:
                return
    finally:
        stop.set()
        producer.join()


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
    except (_NotClean, *_KEY_ERRORS):
        return None
    return inserted
