"""What each Spark executor runs on its partition: the in-process engine's numpy functions.

No pyspark here: the executors import this module to run the functions the driver's
scheduler/engines/spark_steps.py hands to mapInArrow. Every input partition holds whole users
(the driver repartitions by user_id), so per-user work is exact on each partition alone.
"""

from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from scheduler.item_knn import _blocks, liked_matrix, top_of_block
from scheduler.item_model import gram
from scheduler.user_lists import profile_mask, rank_users, ratings_from

GRAM_BAND = 256  # rows of the Gram matrix per output batch (bounded batch size)


CO_SCHEMA = "a int, b int, co long"


def co_likes_partition(batches: Iterator[pa.RecordBatch], n_movies: int) -> Iterator[pa.RecordBatch]:
    """This partition's co-like counts (whole users: exact partial sums), a block of movies at a time."""
    table = whole(batches)
    if table is None:
        return
    liked = liked_matrix(table["user_id"].to_numpy(), table["movie"].to_numpy(), n_movies)
    by_movie = liked.T.tocsr()
    for first, last in _blocks(by_movie, liked):
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


LISTS_SCHEMA = (
    "user_id int, movies array<int>, scores array<double>, sources array<int>, shares array<double>"
)


def rank_partition(batches: Iterator[pa.RecordBatch], shared: Any) -> Iterator[pa.RecordBatch]:
    """rank_users over this partition's users (whole users: the lists are theirs alone)."""
    table = whole(batches)
    if table is None:
        return
    ids, weights, labels, log_pop = shared.value
    names = {"user": "user_id", "movie": "movie_id", "half_stars": "half_stars", "micros": "micros"}
    columns = {mine: table[theirs].to_numpy().astype(np.int64) for mine, theirs in names.items()}
    del table  # copied into columns
    ratings = ratings_from(columns, ids, "")
    lists, shares = rank_users(ratings, profile_mask(ratings), sp.csr_matrix(weights), labels, log_pop)
    lists = lists.without(ratings.stale[lists.user])
    n_clusters = shares.shape[1]
    share_offsets = pa.array(np.arange(len(lists.user) + 1, dtype=np.int32) * n_clusters)
    offsets = pa.array(lists.offsets.astype(np.int32))
    yield pa.RecordBatch.from_arrays(
        [
            pa.array(ratings.users[lists.user].astype(np.int32)),
            pa.ListArray.from_arrays(offsets, pa.array(lists.movie.astype(np.int32))),
            pa.ListArray.from_arrays(offsets, pa.array(lists.score.astype(np.float64))),
            pa.ListArray.from_arrays(offsets, pa.array(lists.source.astype(np.int32))),
            pa.ListArray.from_arrays(share_offsets, pa.array(shares[lists.user].ravel())),
        ],
        names=["user_id", "movies", "scores", "sources", "shares"],
    )


def whole(batches: Iterator[pa.RecordBatch]) -> pa.Table | None:
    """The partition as one table (its users are whole only together); None when empty."""
    parts = [b for b in batches if b.num_rows]
    return pa.Table.from_batches(parts) if parts else None
