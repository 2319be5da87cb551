"""Recluster write step: a holdout NDCG@10 of the default ranking.

The holdout: a fixed sample of users has the latest 20% of its ratings hidden, exactly as in
the offline protocol (scheduler/holdout_sample.py). Their hidden *liked* pairs are left out of
the co-likes table (scheduler/co_likes.py) and of the item model (scheduler/item_model.py)
this version serves, so the scores below never saw them. The sample's lists are ranked from
their training ratings by the one ranking (ranking/users.py, with the popular movies after the
candidates, as the API) over the item model's weights, and NDCG@10 (relevant = hidden rating
>= 4) goes to model_versions.metrics.
Cluster features and popularity counts still include the hidden ratings: a small, constant
optimism, so compare the number between versions and use `cinecluster evaluate` for the
protocol's exact figure. Extra cost: the sample's ratings (one indexed query) and their ranking.
"""

from typing import Any

import numpy as np
import scipy.sparse as sp
from sqlalchemy import Connection, text

from ranking.metrics import score_lists
from ranking.users import Ranker, ratings_from, top_with_popular
from scheduler.holdout_sample import SampleRatings
from scheduler.item_tables import run_log_popularity
from scheduler.versions import WriteContext

K = 10

POPULARITY = text("SELECT movie_id, rating_count FROM movie_features ORDER BY movie_id")


def holdout_step(conn: Connection, context: WriteContext) -> None:
    """metrics['holdout']: NDCG@10 of the default ranking (the item model's weights) on the
    sample whose hidden likes neither the item model nor the co-rating table saw."""
    sample = context.holdout_sample
    if context.item_weights is None or sample is None:
        raise RuntimeError("holdout_step runs after co_likes_step and item_model_step")
    if len(sample.user):
        context.metrics["holdout"] = _holdout(conn, sample, context.item_weights, context)


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
        weights,
        context.fit.labels,
        run_log_popularity(conn, context),
        successors=context.item_successors,
        length=K,
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
