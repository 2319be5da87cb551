"""Recluster write steps: the global item-kNN table, and a holdout NDCG@10 of the default ranking.

The holdout: a fixed sample of users (the same users every run, by a hash of the user id;
min(HOLDOUT_USERS, 10% of users)) has the latest 20% of its ratings hidden, exactly as in the
offline protocol (ranking/split.py). Their hidden *liked* pairs are left out of the
co-rating table and of the item model (scheduler/item_model.py) this version serves, so the
scores below never saw them. The sample's lists are ranked from their training ratings by the
one ranking (ranking/users.py, with the popular movies after the candidates, as the API) over
the item model's weights, and NDCG@10 (relevant = hidden rating >= 4) goes to
model_versions.metrics.
Cluster features and popularity counts still include the hidden ratings: a small, constant
optimism, so compare the number between versions and use `cinecluster evaluate` for the
protocol's exact figure. Extra cost: the sample's ratings (one indexed query) and their ranking.
"""

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from sqlalchemy import Connection, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import Integer

from ranking.liked import latest, liked_mask
from ranking.metrics import score_lists
from ranking.split import temporal_split
from ranking.users import Ranker, Ratings, ratings_from, top_with_popular
from scheduler.item_knn import TABLE_CAP, liked_rows, log_popularity, top_neighbours, write_item_neighbours
from scheduler.ratings import RunRatings, run_ratings
from scheduler.versions import WriteContext

HOLDOUT_USERS = 500
HOLDOUT = 0.2
K = 10

SAMPLE_RATINGS = text(
    """
    SELECT user_id, movie_id, rating, floor(extract(epoch FROM ts))::bigint AS ts
    FROM ratings WHERE user_id = ANY(:users)
    ORDER BY user_id, ts, movie_id
    """
).bindparams(bindparam("users", type_=ARRAY(Integer)))
POPULARITY = text("SELECT movie_id, rating_count FROM movie_features ORDER BY movie_id")


@dataclass
class SampleRatings:
    """The sample users' ratings, ordered by (user, time, movie); movie = index into the ids."""

    user: np.ndarray
    movie: np.ndarray
    rating: np.ndarray
    seconds: np.ndarray  # time of the rating, seconds since the epoch
    test: np.ndarray


def sample_users(users: np.ndarray, limit: int = HOLDOUT_USERS) -> np.ndarray:
    """The same users run after run: smallest Knuth multiplicative hash of the id."""
    size = min(limit, len(users) // 10)
    keys = (users.astype(np.uint64) * np.uint64(2654435761)) % np.uint64(2**32)
    return np.sort(users[np.lexsort((users, keys))[:size]])


def item_knn_step(conn: Connection, context: WriteContext) -> None:
    """Write item_neighbours for the version; store metrics['item_neighbours'], and leave the
    training liked matrix and the holdout sample in the context for the item model and
    holdout_step.

    The liked pairs come from the run's ratings (read once, scheduler/ratings.py) through
    ranking/liked.py, the same rule as the API's SQL (liked_sql), not from a second read."""
    start = time.perf_counter()
    ids = context.features.movie_ids
    run = run_ratings(conn, context)
    ratings = run.ratings
    liked = liked_mask(ratings.half_stars, ratings.starts)
    users = ratings.users[np.logical_or.reduceat(liked, ratings.starts[:-1])] if len(liked) else liked
    if run.known is not None:  # a movie added since the features: not in this version's tables
        liked &= run.known
    sample = _sample_ratings(conn, sample_users(users), ids)
    trained = ~_hidden(ratings, sample)
    if run.known is not None:
        trained &= run.known
    context.trained = trained  # the next-movie counts train on the same ratings (sequence.py)
    train = liked & trained
    del liked
    context.liked = liked_rows(ratings, train, len(ids))
    context.holdout_sample = sample
    capped = _latest_by_seconds(run, train)
    del train
    table = top_neighbours(liked_rows(ratings, capped, len(ids)))
    log_pop = log_popularity(conn, ids)
    rows = write_item_neighbours(conn, context.version, ids, table, context.fit.labels, log_pop)
    context.item_similarity = table.as_matrix(len(ids))
    context.metrics["item_neighbours"] = {
        "rows": rows,
        "liked_pairs": int(capped.sum()),
        "seconds": round(time.perf_counter() - start, 2),
    }


def _hidden(ratings: Ratings, sample: SampleRatings) -> np.ndarray:
    """Per rating: one of the sample's held-out pairs (only the sample users' ratings are looked at)."""
    hidden = np.zeros(len(ratings.user), dtype=bool)
    keys = _pair_key(sample.user[sample.test], sample.movie[sample.test])
    at = np.searchsorted(ratings.users, np.unique(sample.user))
    at = at[(at < len(ratings.users))]
    first, last = ratings.starts[at], ratings.starts[at + 1]
    rows = np.repeat(first - np.cumsum(np.r_[0, (last - first)[:-1]]), last - first) + np.arange(
        int((last - first).sum())
    )
    hidden[rows[np.isin(_pair_key(ratings.user[rows], ratings.movie[rows]), keys)]] = True
    return hidden


def _latest_by_seconds(run: RunRatings, mask: np.ndarray) -> np.ndarray:
    """`mask` cut to each user's TABLE_CAP latest entries by whole seconds, then movie id
    (descending), as item_knn.latest_per_user orders them."""
    if run.by_seconds is None:
        return latest(mask, run.ratings.starts, TABLE_CAP)
    capped = np.empty_like(mask)
    capped[run.by_seconds] = latest(mask[run.by_seconds], run.ratings.starts, TABLE_CAP)
    return capped


def holdout_step(conn: Connection, context: WriteContext) -> None:
    """metrics['holdout']: NDCG@10 of the default ranking (the item model's weights) on the
    sample whose hidden likes neither the item model nor the co-rating table saw."""
    sample = context.holdout_sample
    if context.item_weights is None or sample is None:
        raise RuntimeError("holdout_step runs after item_knn_step and item_model_step")
    if len(sample.user):
        context.metrics["holdout"] = _holdout(conn, sample, context.item_weights, context)


def _pair_key(users: np.ndarray, movies: np.ndarray) -> np.ndarray:
    return users.astype(np.int64) << 32 | movies.astype(np.int64)


def _sample_ratings(conn: Connection, sample: np.ndarray, ids: np.ndarray) -> SampleRatings:
    rows = conn.execute(SAMPLE_RATINGS, {"users": sample.tolist()}).all()
    user, movie_id, stamp = (np.array([r[i] for r in rows], dtype=np.int64) for i in (0, 1, 3))
    rating = np.array([r.rating for r in rows], dtype=np.float64)
    test = temporal_split(user, movie_id, stamp, HOLDOUT) if rows else np.zeros(0, dtype=bool)
    return SampleRatings(user, np.searchsorted(ids, movie_id), rating, stamp, test)


def _holdout(
    conn: Connection, sample: SampleRatings, weights: sp.csr_matrix, context: WriteContext
) -> dict[str, Any]:
    ids = context.features.movie_ids
    n_movies = weights.shape[0]
    counts = np.array([r.rating_count for r in conn.execute(POPULARITY)], dtype=np.float64)
    train = ~sample.test
    columns = {
        "user": sample.user[train],
        "movie": ids[sample.movie[train]],
        "half_stars": np.round(sample.rating[train] * 2).astype(np.int64),
        "micros": sample.seconds[train] * 1_000_000,
    }
    ratings = ratings_from(columns, ids, "")
    ranker = Ranker(
        weights, context.fit.labels, log_popularity(conn, ids), successors=context.item_successors, length=K
    )
    tops = top_with_popular(ranker.rank(ratings)[0], ratings, counts, K)
    lists = {int(u): top.tolist() for u, top in zip(ratings.users, tops, strict=True)}
    hidden = sample.test & (sample.rating >= 4)
    relevant: dict[int, set[int]] = {int(u): set() for u in np.unique(sample.user)}
    for u, m in zip(sample.user[hidden].tolist(), sample.movie[hidden].tolist(), strict=True):
        relevant[u].add(m)
    scores = score_lists(lists, relevant, n_movies, K)
    return {
        "ndcg_at_10": round(scores.ndcg, 4),
        "recall_at_10": round(scores.recall, 4),
        "users": scores.users,
        "strategy": "ease",
        "relevant": "held-out rating >= 4",
    }
