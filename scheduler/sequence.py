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

from ranking.users import Ratings
from scheduler.item_knn import ItemNeighbours, log_popularity, write_item_neighbours
from scheduler.item_model import prune
from scheduler.ratings import run_ratings
from scheduler.versions import WriteContext, WriteStep

WINDOW = 20  # later ratings of the same user that count as "next"
DECAY = 0.9  # per step further away
KEEP = 50  # successors stored per movie
CHUNK = 1 << 19  # ratings per bincount: WINDOW x CHUNK int64 keys (80 MB) at most
# DECAY^(steps - 1) as multiples of 2^-10: every count is then exact in float64, whatever the
# order of the additions (in process or summed across Spark partitions: the same table)
STEP_WEIGHTS = np.round(DECAY ** np.arange(WINDOW) * 1024) / 1024


def successor_counts(
    ratings: Ratings, covered: np.ndarray, n_movies: int, train: np.ndarray | None = None
) -> np.ndarray:
    """count[a, b] over the covered movies (positions in `covered`), from every user's ratings
    (Ratings: newest first, so rating i's successor by s steps is rating i - s of the same
    user); `train`: per rating, whether it may count (held-out ratings may not)."""
    width = len(covered)
    local = np.full(n_movies, -1, dtype=np.int64)
    local[covered] = np.arange(width)
    counts = np.zeros(width * width)
    n = len(ratings.movie)
    weights = STEP_WEIGHTS
    for lo in range(0, n, CHUNK):
        hi = min(n, lo + CHUNK)
        earlier = np.arange(max(lo, 1), hi)  # each rating of the chunk, as the earlier one
        movie = local[ratings.movie[earlier]]
        keep = movie >= 0 if train is None else (movie >= 0) & train[earlier]
        earlier, movie = earlier[keep], movie[keep]
        keys, values = [], []
        for step in range(1, WINDOW + 1):
            later = earlier - step
            ok = later >= 0
            ok[ok] &= ratings.user[later[ok]] == ratings.user[earlier[ok]]
            if not ok.any():
                break  # no user has step more ratings after any of these (users are contiguous)
            following = local[ratings.movie[later[ok]]]
            inside = following >= 0 if train is None else (following >= 0) & train[later[ok]]
            keys.append(movie[ok][inside] * width + following[inside])
            values.append(np.full(int(inside.sum()), weights[step - 1]))
        if keys:
            counts += np.bincount(np.concatenate(keys), np.concatenate(values), minlength=width * width)
    return counts.reshape(width, width)


def successor_weights(counts: np.ndarray, keep: int = KEEP) -> ItemNeighbours:
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
            grid = successor_counts(ratings, covered, len(ids), context.trained)
        else:
            grid = counts(conn, context)(covered)
        local = successor_weights(grid)
        del grid
        table = ItemNeighbours(
            covered[local.movie], local.rank, covered[local.neighbour], local.similarity, local.co_likes
        )
        rows = write_item_neighbours(
            conn,
            context.version,
            ids,
            table,
            context.fit.labels,
            log_popularity(conn, ids),
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


# item_successors' names for write_item_neighbours' columns (movie, rank, neighbour, score,
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
