"""Every rating, read ONCE per run into compact numpy columns, for all the ratings-sized steps.

The item-kNN table, the item model's liked matrix and the stored rankings all start from the
same ratings, so the run reads them once (`run_ratings`, kept on the WriteContext) and derives
the liked pairs in numpy with ranking/liked.py instead of a second SQL read with the same rule.

How the read is fast (measured by benchmarks/recluster.py; EXPLAIN ANALYZE of the variants):
- one statement, one aggregate per range of CHUNK_USERS user ids (an index range scan each, in
  the key's order): PostgreSQL packs each chunk into one bytea, never holding more than a chunk.
  A single GROUP BY over all ratings held every chunk in a hash table that spilled to disk.
- timestamptz_send: the time as the server stores it (microseconds since 2000), where
  extract(epoch) computes a numeric per rating.
- streamed (libpq single-row mode), binary: the server packs the next chunk while numpy
  decodes and sorts this one, each on its own core.
- no JIT for it: compiling took longer than the whole read of ml-latest-small, and gains
  nothing at 25M (the time goes into the aggregate's calls, not expressions).
- memory: 9 bytes per rating at the end (user, movie index, half stars); the time is only
  needed for the order within a user, so it is dropped chunk by chunk once sorted.
"""

from dataclasses import dataclass

import numpy as np
from sqlalchemy import Connection

from cinecluster.db import raw_connection
from ranking.users import Ratings, grouped_ratings, movie_indices
from scheduler.versions import WriteContext

CHUNK_USERS = 1024  # user ids per packed chunk (~3 MB at 25M ratings)
_ROW = np.dtype([("user", ">i4"), ("movie", ">i4"), ("half_stars", ">i2"), ("micros", ">i8")])
_EPOCH_2000 = 946_684_800_000_000  # timestamptz_send counts microseconds from 2000-01-01 UTC
# The snapshot comes from the same statement: the rankings are exactly as current as it.
_CHUNKS = f"""
    SELECT pg_current_snapshot()::text, c.packed
    FROM generate_series((SELECT min(user_id) FROM ratings)::int8,
                         (SELECT max(user_id) FROM ratings)::int8, {CHUNK_USERS}) AS g(first)
    CROSS JOIN LATERAL (
        SELECT string_agg(int4send(user_id) || int4send(movie_id) || int2send((rating * 2)::int2)
                          || timestamptz_send(ts), ''::bytea) AS packed
        FROM ratings WHERE user_id >= g.first AND user_id < g.first + {CHUNK_USERS}
    ) AS c
    WHERE c.packed IS NOT NULL
"""
_SNAPSHOT = "SELECT pg_current_snapshot()::text"
_ESTIMATE = "SELECT greatest(reltuples, 0)::int8 FROM pg_class WHERE oid = 'ratings'::regclass"


@dataclass
class RunRatings:
    """The run's ratings, and what the item-kNN table needs besides the ranking's order."""

    ratings: Ratings
    known: np.ndarray | None  # per rating: a movie the version has features for (None: all)
    # item_neighbours caps by whole seconds (then movie id, descending); None when that is the
    # ratings' own order (no two ratings of a user in one second out of movie order), else the
    # permutation of rating positions into it (within each user)
    by_seconds: np.ndarray | None


def run_ratings(conn: Connection, context: WriteContext) -> RunRatings:
    """The run's ratings: read by the first write step that asks, then shared through the context
    (the last step that needs them sets context.ratings to None, freeing them)."""
    if context.ratings is None:
        context.ratings = fetch_ratings(conn, context.features.movie_ids)
    ratings: RunRatings = context.ratings
    return ratings


def fetch_ratings(conn: Connection, ids: np.ndarray) -> RunRatings:
    """Every rating, grouped by user, newest first (Ratings' order), movies as indices into `ids`."""
    pg = raw_connection(conn)
    estimate = pg.execute(_ESTIMATE).fetchone()
    columns = _Columns(int(estimate[0]) if estimate else 0)
    reorders = []
    snapshot = None
    jit = pg.execute("SELECT set_config('jit', 'off', true)").fetchone()  # see _CHUNKS
    with pg.cursor(binary=True) as cursor:
        for seen_under, packed in cursor.stream(_CHUNKS):
            snapshot = seen_under
            user, movie_id, half, reorder = _sorted_chunk(np.frombuffer(packed, dtype=_ROW))
            movie, unknown = movie_indices(movie_id, ids)
            if reorder is not None:
                reorders.append((columns.size, reorder))
            columns.append(user, movie, half, unknown)
        if snapshot is None:
            snapshot = cursor.execute(_SNAPSHOT).fetchone()[0]  # type: ignore[index]  # a SELECT without FROM: one row
    pg.execute("SELECT set_config('jit', %s, true)", (jit[0] if jit else "on",))
    user, movie, half, unknown = columns.filled()
    ratings = grouped_ratings(user, movie, half, unknown, snapshot)
    by_seconds = None
    if reorders:
        by_seconds = np.arange(len(user))
        for start, reorder in reorders:
            by_seconds[start : start + len(reorder)] = start + reorder
    return RunRatings(ratings, ~unknown if unknown.any() else None, by_seconds)


class _Columns:
    """Growable columns, allocated once for the planner's row estimate: no list of chunks
    concatenated at the end (twice the columns' memory); pages past the end are never touched."""

    DTYPES = (np.int32, np.int32, np.int8, np.bool_)  # user, movie index, half stars, unknown

    def __init__(self, estimate: int) -> None:
        capacity = max(int(estimate * 1.02), 1 << 16)
        self.arrays = [np.empty(capacity, dtype=t) for t in self.DTYPES]
        self.size = 0

    def append(self, *values: np.ndarray) -> None:
        end = self.size + len(values[0])
        if end > len(self.arrays[0]):
            grown = max(end, len(self.arrays[0]) * 5 // 4)
            self.arrays = [np.resize(a, grown) for a in self.arrays]
        for array, part in zip(self.arrays, values, strict=True):
            array[self.size : end] = part
        self.size = end

    def filled(self) -> list[np.ndarray]:
        return [a[: self.size] for a in self.arrays]


def _sorted_chunk(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """A chunk's (user, movie id, half stars) newest first within each user, and its order by
    whole seconds if that differs (see RunRatings.by_seconds)."""
    user = rows["user"].astype(np.int32)
    movie = rows["movie"].astype(np.int32)
    micros = rows["micros"].astype(np.int64) + _EPOCH_2000
    whole = not (micros % 1_000_000).any()
    order = _one_key_order(user, micros // 1_000_000, movie) if whole else None
    if order is None:
        order = np.lexsort((-movie, -micros, user))
    user, movie, micros = user[order], movie[order], micros[order]
    half = rows["half_stars"][order].astype(np.int8)
    if whole:
        return user, movie, half, None
    seconds = micros // 1_000_000
    same = (user[1:] == user[:-1]) & (seconds[1:] == seconds[:-1])
    if not (movie[1:][same] > movie[:-1][same]).any():  # movie ids descending within a second
        return user, movie, half, None
    return user, movie, half, np.lexsort((-movie, -seconds, user))


def _one_key_order(user: np.ndarray, seconds: np.ndarray, movie: np.ndarray) -> np.ndarray | None:
    """The order (user, seconds desc, movie desc) as one argsort of packed int64 keys (unique:
    one rating per user and movie), ten times faster than a three-key lexsort; None if the
    chunk's ranges do not fit in 63 bits."""
    if len(user) == 0:
        return None
    u = (user - user.min()).astype(np.int64)
    t = seconds.max() - seconds
    m = (movie.max() - movie).astype(np.int64)
    bits_t, bits_m = int(t.max()).bit_length(), int(m.max()).bit_length()
    if int(u.max()).bit_length() + bits_t + bits_m > 63:
        return None
    return np.argsort((u << (bits_t + bits_m)) | (t << bits_m) | m)
