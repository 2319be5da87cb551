"""Top-k ranking metrics with binary relevance, as the evaluation protocol defines them.

For one user: `ranked` is the recommended list (best first, possibly shorter than k) and
`relevant` the set of held-out movies that count as relevant. Precision divides by k even for
a shorter list (an empty slot is a miss); recall divides by the number of relevant movies;
NDCG uses gain 1 per hit and a log2(rank + 1) discount, normalised by the ideal list of
min(|relevant|, k) hits. Users without relevant movies are skipped by the caller.

Shared by `cinecluster evaluate` (evaluation/) and the recluster's holdout check
(scheduler/quality.py), which may not import evaluation/: so it lives beside the ranking it judges.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

DISCOUNTS = 1.0 / np.log2(np.arange(2, 1002))  # rank r (1-based) -> 1 / log2(r + 1)


def _hits(ranked: Sequence[int], relevant: set[int], k: int) -> list[bool]:
    return [movie in relevant for movie in ranked[:k]]


def precision_at_k(ranked: Sequence[int], relevant: set[int], k: int) -> float:
    return sum(_hits(ranked, relevant, k)) / k


def recall_at_k(ranked: Sequence[int], relevant: set[int], k: int) -> float:
    return sum(_hits(ranked, relevant, k)) / len(relevant) if relevant else 0.0


def ndcg_at_k(ranked: Sequence[int], relevant: set[int], k: int) -> float:
    if not relevant:
        return 0.0
    hits = np.array(_hits(ranked, relevant, k), dtype=float)
    dcg = float(hits @ DISCOUNTS[: len(hits)])
    ideal = float(DISCOUNTS[: min(len(relevant), k)].sum())
    return dcg / ideal


def hit_rate_at_k(ranked: Sequence[int], relevant: set[int], k: int) -> float:
    return 1.0 if any(_hits(ranked, relevant, k)) else 0.0


def coverage(lists: Iterable[Sequence[int]], catalogue_size: int, k: int) -> float:
    """Share of the catalogue that appears in at least one top-k list."""
    shown = {movie for ranked in lists for movie in ranked[:k]}
    return len(shown) / catalogue_size if catalogue_size else 0.0


@dataclass(frozen=True)
class Scores:
    """Metrics averaged over the users that have at least one relevant held-out movie."""

    precision: float
    recall: float
    ndcg: float
    hit_rate: float
    coverage: float
    users: int


def score_lists(
    lists: Mapping[int, Sequence[int]], relevant: Mapping[int, set[int]], catalogue_size: int, k: int
) -> Scores:
    """Average the per-user metrics; a user with no list counts as an empty list (all misses)."""
    users = [user for user, movies in relevant.items() if movies]
    per_user = np.array(
        [
            (
                precision_at_k(lists.get(user, ()), relevant[user], k),
                recall_at_k(lists.get(user, ()), relevant[user], k),
                ndcg_at_k(lists.get(user, ()), relevant[user], k),
                hit_rate_at_k(lists.get(user, ()), relevant[user], k),
            )
            for user in users
        ]
    ).reshape(-1, 4)
    means = per_user.mean(axis=0) if users else np.zeros(4)
    return Scores(
        precision=float(means[0]),
        recall=float(means[1]),
        ndcg=float(means[2]),
        hit_rate=float(means[3]),
        coverage=coverage(lists.values(), catalogue_size, k),
        users=len(users),
    )
