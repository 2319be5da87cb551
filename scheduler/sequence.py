"""The next-movie component's table: what people rate next after each movie (item_successors).

Learned in each run from the order of every user's ratings (docs/evaluation.md has the
measurements behind the choices):
  count[a, b] = sum over users, over each rating of a and each of the same user's next WINDOW
                ratings, if it is b, of DECAY^(steps - 1) (STEP_WEIGHTS); ratings in the same
                second keep the stored order (time, then movie id): dropping such pairs lost
                a little on the temporal split
  weight[a, b] = count[a, b] / sqrt(sum over b of count[a, b]), scaled so the largest is 1,
                 each movie's KEEP largest kept, rounded to a multiple of 2^-20 (exact sums, as
                 the item model's weights: ranking/users.py); transitions = the count, rounded
Only movies inside the item model's solve are counted (both ends): the table is movies-sized
(covered x KEEP rows) and the counts a dense covered x covered grid (72 MB for 3,000 movies).
The ranking (ranking/__init__.py) sums a user's newest ratings' rows.

Work: ratings x WINDOW pair lookups, CHUNK ratings at a time (a few tens of MB of keys), one
bincount per chunk; at 25M ratings the grid's accumulation dominates.
"""

import time
from collections.abc import Callable
from typing import Protocol

import numpy as np
from sqlalchemy import Connection

from ranking.threads import even_spans, map_in_threads
from ranking.users import Ratings
from scheduler.item_model import prune
from scheduler.item_tables import ItemTable, run_log_popularity, write_item_table
from scheduler.ratings import run_ratings
from scheduler.versions import WriteContext, WriteStep

WINDOW = 20  # later ratings of the same user that count as "next"
DECAY = 0.9  # per step further away
KEEP = 50  # successors stored per movie
CHUNK = 1 << 19  # ratings per bincount: WINDOW x CHUNK int32 keys and float64 weights (120 MB) at most
# DECAY^(steps - 1) as multiples of 2^-10: every count is then exact in float64, whatever the
# order of the additions (in process or summed across Spark partitions: the same table)
STEP_WEIGHTS = np.round(DECAY ** np.arange(WINDOW) * 1024) / 1024


def successor_counts(
    ratings: Ratings,
    covered: np.ndarray,
    n_movies: int,
    train: np.ndarray | None = None,
    threads: int = 1,
) -> np.ndarray:
    """count[a, b] over the covered movies (positions in `covered`), from every user's ratings
    (Ratings: newest first, so rating i's successor by s steps is rating i - s, of the same
    user while i's recency is at least s); `train`: per rating, whether it may count (held-out
    ratings may not). Each step is a shifted slice of the chunk: no gathers.

    `threads` count contiguous parts of the ratings at once, each into its own grid, with
    chunks that many times smaller (the same temporaries in all); the grids are added at the
    end: exact sums (STEP_WEIGHTS), so the same table as one thread."""
    width = len(covered)
    local = np.full(n_movies, -1, dtype=np.int32)  # keys < width² fit in int32 (width <= 15,000)
    local[covered] = np.arange(width, dtype=np.int32)
    n = len(ratings.movie)
    chunk = max(CHUNK // max(threads, 1), 1)

    def part(first: int, last: int) -> np.ndarray:
        counts = np.zeros(width * width)
        for lo in range(first, last, chunk):
            keys, values = _chunk_pairs(ratings, local, train, width, lo, min(last, lo + chunk))
            counts += np.bincount(keys, values, minlength=width * width)
        return counts

    grids = map_in_threads(lambda span: part(*span), even_spans(n, threads), threads, "successors")
    counts = grids.pop() if grids else np.zeros(width * width)
    while grids:
        counts += grids.pop()
    return counts.reshape(width, width)


def _chunk_pairs(
    ratings: Ratings, local: np.ndarray, train: np.ndarray | None, width: int, lo: int, hi: int
) -> tuple[np.ndarray, np.ndarray]:
    """Ratings lo..hi-1 and their successors up to WINDOW steps: (earlier x width + later, weight)."""
    first = max(0, lo - WINDOW)  # the later ratings of the chunk's first ones come before it
    movie = local[ratings.movie[first:hi]]
    if train is not None:
        movie[~train[first:hi]] = -1
    starts = ratings.starts
    user_of = np.searchsorted(starts, np.arange(lo, hi), side="right") - 1
    recency = np.arange(lo, hi) - starts[user_of]  # ratings of the same user newer than it
    earlier = movie[lo - first :]
    keys, values = [], []
    for step in range(1, WINDOW + 1):
        start = lo - first - step  # where the later rating of the chunk's first one is
        if start >= 0:
            later = movie[start : start + hi - lo]
        else:  # the data's very first ratings: none `step` before them
            pad = min(-start, hi - lo)
            later = np.r_[np.full(pad, -1), movie[: hi - lo - pad]]
        ok = (recency >= step) & (earlier >= 0) & (later >= 0)
        keys.append(earlier[ok] * width + later[ok])
        values.append(np.full(len(keys[-1]), STEP_WEIGHTS[step - 1]))
    return np.concatenate(keys), np.concatenate(values)


def successor_weights(counts: np.ndarray, keep: int = KEEP) -> ItemTable:
    """The stored table from the counts (local indices): rows divided by sqrt(row sum), scaled
    to a largest weight of 1, each row's `keep` largest, multiples of 2^-20 (zeros dropped)."""
    totals = counts.sum(axis=1)
    weights = counts / np.sqrt(np.maximum(totals, 1e-300))[:, None]
    top = weights.max(initial=0.0)
    if top > 0:
        weights /= top
    return prune(weights, np.rint(counts), keep)  # weights >= 0: what it keeps is positive


class SuccessorCounts(Protocol):
    """Where the counts come from: the run's ratings in process, or a Spark engine."""

    def __call__(self, covered: np.ndarray) -> np.ndarray: ...


def successors_step(counts: Callable[[Connection, WriteContext], SuccessorCounts] | None = None) -> WriteStep:
    """Write step: item_successors for the version over the item model's movies (after
    item_model_step), and context.item_successors for the rankings after it."""

    def successors_step(conn: Connection, context: WriteContext) -> None:
        if context.item_covered is None:
            raise RuntimeError("successors_step runs after item_model_step (it needs the covered movies)")
        start = time.perf_counter()
        ids = context.features.movie_ids
        covered = context.item_covered
        if counts is None:
            ratings = run_ratings(conn, context).ratings
            threads = context.threads
            grid = successor_counts(ratings, covered, len(ids), context.trained, threads)
        else:
            grid = counts(conn, context)(covered)
        local = successor_weights(grid)
        del grid
        table = ItemTable(
            covered[local.movie], local.rank, covered[local.neighbour], local.similarity, local.co_likes
        )
        rows = write_item_table(
            conn,
            context.version,
            ids,
            table,
            context.fit.labels,
            run_log_popularity(conn, context),
            into="item_successors",
            score="weight",
            names=SUCCESSOR_COLUMNS,
        )
        context.item_successors = table.as_matrix(len(ids))
        context.metrics["item_successors"] = {
            "window": WINDOW,
            "decay": DECAY,
            "keep": KEEP,
            "movies": len(covered),
            "rows": rows,
            "seconds": round(time.perf_counter() - start, 2),
        }

    return successors_step


# item_successors' names for write_item_table's columns (movie, rank, neighbour, score,
# co-likes, its cluster, its popularity)
SUCCESSOR_COLUMNS = (
    "movie_id",
    "rank",
    "successor_id",
    "weight",
    "transitions",
    "successor_cluster",
    "successor_log_pop",
)
