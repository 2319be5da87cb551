"""Movie x movie tables of a version (item_neighbours, item_weights, item_successors): one
shape in memory and one COPY for all three.

Each is, per movie, its top entries by score: (movie, rank, other movie, score, a count), with
each row also carrying the other movie's cluster and ln(1 + ratings), which the live SQL
ranking reads per candidate instead of joining movies (service/recommenders/weighted.py).
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sqlalchemy import Connection, text

from scheduler.versions import WriteContext, copy_partition


@dataclass
class ItemTable:
    """Flat arrays, one entry per (movie, rank); movie indices point into the caller's id list.
    `neighbour` is the other movie, `similarity` its score (a cosine, a weight) and `co_likes`
    the count behind it (co-likes, transitions)."""

    movie: np.ndarray
    rank: np.ndarray
    neighbour: np.ndarray
    similarity: np.ndarray
    co_likes: np.ndarray

    def as_matrix(self, n_movies: int) -> sp.csr_matrix:
        """movie x neighbour similarity matrix (TOP_N entries per row): profile @ it = scores."""
        return sp.csr_matrix(
            (self.similarity.astype(np.float64), (self.movie, self.neighbour)), shape=(n_movies, n_movies)
        )


def write_item_table(
    conn: Connection,
    version: int,
    ids: np.ndarray,
    table: ItemTable,
    labels: np.ndarray,
    log_pop: np.ndarray,
    *,
    into: str = "item_neighbours",
    score: str = "similarity",
    names: tuple[str, ...] | None = None,
) -> int:
    """COPY the table for `version` (ids[i] = movie id of index i) inside the caller's transaction.

    Each row also carries its neighbour's cluster (`labels`) and ln(1 + ratings) (`log_pop`, as
    PostgreSQL computed it: see log_popularity), which the live ranking needs per candidate.
    `into`/`score`: item_weights/weight for the item model (scheduler/item_model.py); `names`:
    another table's names for the seven columns after version (scheduler/sequence.py)."""
    columns = names or (
        "movie_id",
        "rank",
        "neighbour_id",
        score,
        "co_likes",
        "neighbour_cluster",
        "neighbour_log_pop",
    )
    copy_partition(
        conn,
        into,
        version,
        ["version", *columns],
        [
            ("int4", np.full(len(table.movie), version)),
            ("int4", ids[table.movie]),
            ("int2", table.rank),
            ("int4", ids[table.neighbour]),
            ("float4", table.similarity),
            ("int4", table.co_likes),
            ("int2", labels[table.neighbour]),
            ("float8", log_pop[table.neighbour]),
        ],
    )
    return len(table.movie)


_LOG_POPULARITY = text("SELECT movie_id, ln(1 + rating_count) AS log_pop FROM movie_features")


def run_log_popularity(conn: Connection, context: WriteContext) -> np.ndarray:
    """log_popularity of the version's movies, read once per run: movie_features do not change
    inside the version's transaction, and five steps need it."""
    if context.log_pop is None:
        context.log_pop = log_popularity(conn, context.features.movie_ids)
    return context.log_pop


def log_popularity(conn: Connection, ids: np.ndarray) -> np.ndarray:
    """ln(1 + rating_count) per movie index (0 without features), computed by PostgreSQL: the
    live SQL ranking uses these very values, and numpy's log may differ in the last bit."""
    values = np.zeros(len(ids))
    rows = conn.execute(_LOG_POPULARITY).all()
    if rows:
        movie_id = np.array([r.movie_id for r in rows], dtype=np.int64)
        values[np.searchsorted(ids, movie_id)] = [r.log_pop for r in rows]
    return values
