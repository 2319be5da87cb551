"""What each Spark executor runs on its partition: the in-process engine's numpy functions.

No pyspark here: the executors import this module to run the functions the driver's
scheduler/engines/spark_steps.py hands to mapInArrow. Every input partition holds whole users
(the driver repartitions by user_id), so per-user work is exact on each partition alone.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg
import pyarrow as pa
import scipy.sparse as sp

from ranking.users import Ranker, ratings_from
from scheduler.co_likes import BLOCK_PRODUCTS, _blocks, liked_matrix, top_of_block
from scheduler.copyio import Column, copy_with
from scheduler.item_model import gram
from scheduler.user_lists import LIST_COLUMNS, list_columns

GRAM_BAND = 256  # rows of the Gram matrix per output batch (bounded batch size)


CO_SCHEMA = "a int, b int, co long"


def co_likes_partition(batches: Iterator[pa.RecordBatch], n_movies: int) -> Iterator[pa.RecordBatch]:
    """This partition's co-like counts (whole users: exact partial sums), a block of movies at a time."""
    table = whole(batches)
    if table is None:
        return
    liked = liked_matrix(table["user_id"].to_numpy(), table["movie"].to_numpy(), n_movies)
    by_movie = liked.T.tocsr()
    for first, last in _blocks(by_movie, liked, BLOCK_PRODUCTS):
        co = (by_movie[first:last] @ liked).tocoo()
        a = co.row.astype(np.int32) + first
        off = a != co.col
        yield pa.RecordBatch.from_arrays(
            [
                pa.array(a[off]),
                pa.array(co.col[off].astype(np.int32)),
                pa.array(co.data[off].astype(np.int64)),
            ],
            names=["a", "b", "co"],
        )


TOP_SCHEMA = "movie int, rank int, neighbour int, sim float, co int"


def top_partition(
    batches: Iterator[pa.RecordBatch], shared: Any, k: int, n_movies: int
) -> Iterator[pa.RecordBatch]:
    """The summed co-likes of this partition's movies (all their pairs are here) and their top k."""
    table = whole(batches)
    if table is None:
        return
    a, b, co = (table[c].to_numpy() for c in ("a", "b", "co"))
    rows, local = np.unique(a, return_inverse=True)
    summed = sp.coo_matrix((co, (local, b)), shape=(len(rows), n_movies)).tocsr()  # sums duplicates
    movie, rank, neighbour, sim, co_likes = top_of_block(summed, rows, shared.value, k)
    yield pa.RecordBatch.from_arrays(
        [
            pa.array(movie.astype(np.int32)),
            pa.array(rank.astype(np.int32)),
            pa.array(neighbour.astype(np.int32)),
            pa.array(sim),
            pa.array(co_likes),
        ],
        names=["movie", "rank", "neighbour", "sim", "co"],
    )


def gram_partition(batches: Iterator[pa.RecordBatch], n: int) -> Iterator[pa.RecordBatch]:
    """The partition's Gram block, upper triangle with the diagonal, as (a, b, count) rows."""
    table = whole(batches)
    if table is None:
        return
    block = gram(liked_matrix(table["user_id"].to_numpy(), table["position"].to_numpy(), n))
    for first in range(0, n, GRAM_BAND):
        rows, columns = np.nonzero(np.triu(block[first : first + GRAM_BAND], k=first))
        yield pa.RecordBatch.from_arrays(
            [
                pa.array((rows + first).astype(np.int32)),
                pa.array(columns.astype(np.int32)),
                pa.array(block[rows + first, columns].astype(np.int64)),
            ],
            names=["a", "b", "co"],
        )


@dataclass(frozen=True)
class ListsTarget:
    """Where executors write the stored rankings: a libpq URL and the run's staging table."""

    url: str
    table: str
    version: int


WRITTEN_SCHEMA = "users long, entries long"
# pg_advisory_xact_lock(class, key): one writer per partition (a retried or speculative attempt
# waits, then replaces the first one's rows)
LOCK_CLASS = 0x5C15


def rank_and_write_partition(
    batches: Iterator[pa.RecordBatch], shared: Any, target: ListsTarget
) -> Iterator[pa.RecordBatch]:
    """The ranking (ranking/users.py) of this partition's users (whole users: the lists are
    theirs alone), COPYed straight into the staging table; only the counts go back to the driver."""
    table = whole(batches)
    if table is None:
        return
    ids, weights, labels, log_pop, successors = shared.value
    names = {"user": "user_id", "movie": "movie_id", "half_stars": "half_stars", "micros": "micros"}
    columns = {mine: table[theirs].to_numpy().astype(np.int64) for mine, theirs in names.items()}
    del table  # copied into columns
    ratings = ratings_from(columns, ids, "")
    ranker = Ranker(sp.csr_matrix(weights), labels, log_pop, successors=successors)
    lists, shares = ranker.rank(ratings)
    lists = lists.without(ratings.stale[lists.user])
    users = ratings.users[lists.user]
    write_lists(target, ratings.users, list_columns(target.version, ids, users, lists, shares[lists.user]))
    yield pa.RecordBatch.from_arrays(
        [pa.array([len(users)], pa.int64()), pa.array([len(lists.movie)], pa.int64())],
        names=["users", "entries"],
    )


def write_lists(target: ListsTarget, users: np.ndarray, columns: list[Column]) -> None:
    """One transaction: this partition's users' rows replaced by `columns` (idempotent, so a
    task Spark runs again writes the same rows once)."""
    with psycopg.connect(target.url, application_name="cinecluster-spark-executor", connect_timeout=10) as pg:
        pg.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_CLASS, int(users.min())))
        pg.execute(
            f"DELETE FROM {target.table} WHERE version = %s AND user_id = ANY(%s)",
            (target.version, users.tolist()),
        )
        copy_with(pg, target.table, LIST_COLUMNS, columns)


def whole(batches: Iterator[pa.RecordBatch]) -> pa.Table | None:
    """The partition as one table (its users are whole only together); None when empty."""
    parts = [b for b in batches if b.num_rows]
    return pa.Table.from_batches(parts) if parts else None
