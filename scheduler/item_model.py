"""The default ranking's item model, fitted on the liked matrix of the most-liked movies:
DLAE (default) or EASE, both one inverse of the Gram matrix.

With X the users x movies liked matrix (0/1; liked = rating >= 4 or >= the user's own mean)
and G = XᵀX:
- EASE (Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019):
  P = (G + λI)⁻¹, B[i, j] = -P[i, j] / P[j, j], B[j, j] = 0;
- DLAE (Steck, "Autoencoders that don't overfit towards the Identity", NeurIPS 2020): dropout
  p as a per-movie penalty Λ = diag(p / (1 - p) · diag(G)) + λI, P = (G + Λ)⁻¹,
  B = I - P · Λ; the diagonal is dropped (a user's own movies are never recommended), so only
  B[i, j] = -P[i, j] · Λ[j, j] is stored. It penalises popular movies' self-reconstruction
  more, which spreads the weights to the long tail (coverage) and ranks better on every split
  measured (docs/evaluation.md).
A user's score for movie j is Σ over the movies i they liked of (profile weight of i) · B[i, j]
(ranking/__init__.py).

The solve is dense, movies² memory and movies³ time, so it covers the `movies` most-liked
movies only (the rest of a long tail holds few likes: docs/evaluation.md has the share and the
sweep). Each movie keeps its `k` largest weights by absolute value (negative ones too: they
push down what people who liked it tend not to like), rounded to a multiple of 2^-20 so that
any sum of up to 2^29 of them is exact in float64: the stored rankings (numpy) and the live
one (SQL) then agree to the bit whatever order they add in.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import scipy.sparse as sp
from sqlalchemy import Connection

from ranking.sparse import product
from ranking.threads import even_spans, map_in_threads
from scheduler.item_tables import ItemTable, run_log_popularity, write_item_table
from scheduler.options import ReclusterOptions
from scheduler.versions import WriteContext, WriteStep

QUANTUM = 2.0**-20  # weights are multiples of it: exact sums (see above)
GRAM_PARTS = 4  # row slices of the Gram matrix per thread: balanced work, small temporaries
LIMIT = 15.0  # |weight| at most (never reached in practice: weights are well below 1)


_DEFAULTS = ReclusterOptions()  # the options' defaults, not copies of them


@dataclass(frozen=True)
class ItemModelParams:
    """The model, λ, DLAE's dropout p, the movies covered by the solve and the weights kept per
    movie: the run's ease_* options (their defaults, bounds and help: scheduler/options.py)."""

    lam: float = _DEFAULTS.ease_lambda
    movies: int = _DEFAULTS.ease_movies
    k: int = _DEFAULTS.ease_k
    model: str = _DEFAULTS.ease_model  # "dlae" or "ease"
    dropout: float = _DEFAULTS.ease_dropout  # DLAE's p

    @classmethod
    def of(cls, options: ReclusterOptions) -> "ItemModelParams":
        return cls(
            lam=options.ease_lambda,
            movies=options.ease_movies,
            k=options.ease_k,
            model=options.ease_model,
            dropout=options.ease_dropout,
        )


@dataclass
class ItemModel:
    """The pruned weights (as an ItemTable: similarity = weight) and what it covers."""

    table: ItemTable
    covered: np.ndarray  # movie indices inside the solve
    liked_share: float  # share of the liked pairs on covered movies


def most_liked(liked: sp.csr_matrix, limit: int) -> np.ndarray:
    """Indices of the `limit` movies with the most likes (ties: lower index), ascending."""
    return most_liked_of(np.asarray(liked.sum(axis=0)).ravel(), limit)


def most_liked_of(likes: np.ndarray, limit: int) -> np.ndarray:
    """most_liked from the likes per movie."""
    order = np.lexsort((np.arange(len(likes)), -likes))
    chosen = order[: min(limit, int((likes > 0).sum()))]
    return np.sort(chosen)


def gram(liked: sp.csr_matrix, threads: int = 1) -> np.ndarray:
    """XᵀX as a dense float64 matrix.

    Sparse: the work is Σ over users of (their liked movies inside)², 1.7e9 at 25M ratings,
    where dense blocks of users through BLAS took 16-21 s (both cores). In GRAM_PARTS slices of
    rows, `threads` at a time, each with scipy's product in one pass (ranking/sparse.py). The
    0/1 matrix is float32: counts are exact up to 2^24 users liking both movies."""
    n = liked.shape[1]
    by_movie = liked.T.tocsr()
    counts = np.empty((n, n))

    def rows(span: tuple[int, int]) -> None:
        first, last = span
        counts[first:last] = product(by_movie[first:last], liked).toarray()

    map_in_threads(rows, even_spans(n, GRAM_PARTS * max(threads, 1)), threads, "gram")
    return counts


def ease_weights(counts: np.ndarray, lam: float) -> np.ndarray:
    """B from the Gram matrix XᵀX (dense, consumed: the work is done in its memory)."""
    counts[np.diag_indices_from(counts)] += lam
    weights = np.linalg.inv(counts)
    weights /= -np.diag(weights)  # column j divided by -P[j, j]
    np.fill_diagonal(weights, 0.0)
    return weights


def dlae_weights(counts: np.ndarray, lam: float, dropout: float) -> np.ndarray:
    """B from the Gram matrix XᵀX (dense, consumed), diagonal 0 (see the module's doc)."""
    penalty = dropout / (1.0 - dropout) * np.diag(counts) + lam
    counts[np.diag_indices_from(counts)] += penalty
    weights = np.linalg.inv(counts)
    weights *= -penalty  # column j times -Λ[j, j]
    np.fill_diagonal(weights, 0.0)
    return weights


def prune(weights: np.ndarray, counts: np.ndarray, k: int) -> ItemTable:
    """Each row's k largest |weights|, rounded to QUANTUM (zeros dropped), ranked by weight
    descending then column ascending: (row, rank, column, weight, co-likes) in local indices."""
    n = len(weights)
    keep = min(k, n - 1)
    if keep < 1:
        empty = np.empty(0, dtype=np.int64)
        return ItemTable(empty, empty, empty, np.empty(0, np.float32), np.empty(0, np.int32))
    magnitude = np.abs(weights)
    np.fill_diagonal(magnitude, -1.0)  # never a movie's own weight
    column = np.argpartition(-magnitude, keep - 1, axis=1)[:, :keep]
    row = np.repeat(np.arange(n), keep)
    column = column.ravel()
    value = (np.round(weights[row, column] / QUANTUM) * QUANTUM).astype(np.float32)
    nonzero = value != 0
    row, column, value = row[nonzero], column[nonzero], value[nonzero]
    order = np.lexsort((column, -value, row))
    row, column, value = row[order], column[order], value[order]
    starts = np.flatnonzero(np.r_[True, row[1:] != row[:-1]]) if len(row) else row
    rank = np.arange(len(row)) - np.repeat(starts, np.diff(np.r_[starts, len(row)])) + 1
    co_likes = counts[row, column].astype(np.int32)
    return ItemTable(row, rank, column, value, co_likes)


class LikedCounts(Protocol):
    """What the fit reads from the liked matrix: likes per movie and the Gram of some columns.
    In process (CsrCounts) or from a Spark engine (scheduler/engines/spark_steps.py)."""

    def likes(self) -> np.ndarray: ...

    def gram(self, covered: np.ndarray) -> np.ndarray: ...


@dataclass
class CsrCounts:
    liked: sp.csr_matrix
    threads: int = 1

    def likes(self) -> np.ndarray:
        return np.asarray(self.liked.sum(axis=0)).ravel()

    def gram(self, covered: np.ndarray) -> np.ndarray:
        return gram(self.liked[:, covered].tocsr(), self.threads)


def fit_item_model(
    liked: sp.csr_matrix | LikedCounts, params: ItemModelParams, threads: int = 1
) -> ItemModel:
    """EASE on the `params.movies` most-liked columns of `liked`; indices are liked's columns."""
    source = CsrCounts(liked, threads) if isinstance(liked, sp.csr_matrix) else liked
    likes = source.likes()
    covered = most_liked_of(likes, params.movies)
    if len(covered) == 0:
        empty = np.empty(0, dtype=np.int64)
        table = ItemTable(empty, empty, empty, np.empty(0, np.float32), np.empty(0, np.int32))
        return ItemModel(table, covered, 0.0)
    counts = source.gram(covered)
    if params.model == "ease":
        weights = ease_weights(counts.copy(), params.lam)
    else:
        weights = dlae_weights(counts.copy(), params.lam, params.dropout)
    np.clip(weights, -LIMIT, LIMIT, out=weights)  # |B| < 16: the sums stay exact (see QUANTUM)
    local = prune(weights, counts, params.k)
    table = ItemTable(
        covered[local.movie], local.rank, covered[local.neighbour], local.similarity, local.co_likes
    )
    total = int(likes.astype(np.int64).sum())
    share = int(likes[covered].astype(np.int64).sum()) / total if total else 0.0
    return ItemModel(table, covered, share)


def item_model_step(
    params: ItemModelParams, counts: Callable[[WriteContext], LikedCounts | None] | None = None
) -> WriteStep:
    """Write step: item_weights for the version from the item-kNN step's training matrix
    (`counts`: where the likes and the Gram come from instead, e.g. the Spark engine)."""

    def item_model_step(conn: Connection, context: WriteContext) -> None:
        liked = context.liked if counts is None else counts(context)
        if liked is None:
            raise RuntimeError("item_model_step runs after co_likes_step (it needs the liked matrix)")
        start = time.perf_counter()
        ids = context.features.movie_ids
        model = fit_item_model(liked, params, context.threads)
        context.liked = liked = None  # its last reader: freed before the rankings' peak
        rows = write_item_table(
            conn,
            context.version,
            ids,
            model.table,
            context.fit.labels,
            run_log_popularity(conn, context),
            into="item_weights",
            score="weight",
        )
        context.item_weights = model.table.as_matrix(len(ids))
        context.item_covered = model.covered
        context.metrics["item_model"] = {
            "model": params.model,
            "lambda": params.lam,
            **({"dropout": params.dropout} if params.model == "dlae" else {}),
            "movies": len(model.covered),
            "k": params.k,
            "liked_share": round(model.liked_share, 4),
            "rows": rows,
            "seconds": round(time.perf_counter() - start, 2),
        }

    return item_model_step
