"""The evaluation's holdout splits: pure numpy, each a boolean mask over the input rows (True =
held out, the test part).

- `temporal_split`: per user, ratings ordered by (timestamp, movieId); the last `holdout` share
  (floor, at least one, for users with two or more ratings) is held out.
- `last_n_split`: per user, the last `n` ratings in the same order, for users with more than
  `n` ratings (the others keep all of theirs).
- `random_split`: a seeded random `holdout` share of all ratings, each user keeping at least one.

Ordering ties by movieId makes the two temporal splits deterministic when a user rated several
movies in the same second, and keeps them leak-free: no training rating of a user is later
than any of that user's held-out ratings. The random split is deterministic for a seed and
does not depend on the input's row order; it is not leak-free, by design.

Shared by `cinecluster evaluate` (evaluation/) and the recluster's holdout check
(scheduler/quality.py), which may not import evaluation/: so they live beside the ranking they judge.
"""

import numpy as np
import numpy.typing as npt

PROTOCOLS = ("temporal", "random", "last5")
LAST_N = 5  # the last5 protocol's n

Mask = npt.NDArray[np.bool_]


def held_out_count(n_ratings: npt.NDArray[np.int64], holdout: float) -> npt.NDArray[np.int64]:
    """Held-out ratings per user: floor(n * holdout), at least 1, none for single-rating users."""
    counts = np.maximum(1, np.floor(n_ratings * holdout + 1e-9).astype(np.int64))
    return np.where(n_ratings >= 2, np.minimum(counts, n_ratings - 1), 0)


def _check_holdout(holdout: float) -> None:
    if not 0.0 < holdout < 1.0:
        raise ValueError(f"holdout must be between 0 and 1 (exclusive), got {holdout}")


def _columns(*columns: npt.ArrayLike) -> list[npt.NDArray[np.int64]]:
    arrays = [np.asarray(column, dtype=np.int64) for column in columns]
    if len({len(array) for array in arrays}) > 1:
        raise ValueError("user_ids, movie_ids and timestamps must have the same length")
    return arrays


def _runs(sorted_users: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Start and size of each user's run of rows in an array sorted by user."""
    starts = np.flatnonzero(np.r_[True, sorted_users[1:] != sorted_users[:-1]])
    return starts, np.diff(np.r_[starts, len(sorted_users)])


def _from_end(
    user_ids: npt.ArrayLike, movie_ids: npt.ArrayLike, timestamps: npt.ArrayLike
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Rows sorted by (user, timestamp, movie): the order, each sorted row's position counted
    from its user's end (0 = the latest rating), and its user's number of ratings."""
    users, movies, stamps = _columns(user_ids, movie_ids, timestamps)
    order = np.lexsort((movies, stamps, users))
    starts, sizes = _runs(users[order])
    from_end = np.repeat(starts + sizes, sizes) - 1 - np.arange(len(users))
    return order, from_end, np.repeat(sizes, sizes)


def _unsort(order: npt.NDArray[np.int64], sorted_mask: Mask) -> Mask:
    mask = np.empty(len(order), dtype=bool)
    mask[order] = sorted_mask
    return mask


def temporal_split(
    user_ids: npt.ArrayLike, movie_ids: npt.ArrayLike, timestamps: npt.ArrayLike, holdout: float = 0.2
) -> Mask:
    """Each user's latest `holdout` share of ratings (see held_out_count)."""
    _check_holdout(holdout)
    order, from_end, size = _from_end(user_ids, movie_ids, timestamps)
    return _unsort(order, from_end < held_out_count(size, holdout))


def last_n_split(
    user_ids: npt.ArrayLike, movie_ids: npt.ArrayLike, timestamps: npt.ArrayLike, n: int = LAST_N
) -> Mask:
    """Each user's latest `n` ratings, for users with more than `n`."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    order, from_end, size = _from_end(user_ids, movie_ids, timestamps)
    return _unsort(order, (from_end < n) & (size > n))


def random_split(
    user_ids: npt.ArrayLike, movie_ids: npt.ArrayLike, holdout: float = 0.2, seed: int = 0
) -> Mask:
    """floor(holdout x all ratings) ratings drawn uniformly, after one random rating per user
    is set aside for training (the draw is capped at what is left)."""
    _check_holdout(holdout)
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    users, movies = _columns(user_ids, movie_ids)
    # a canonical order, so the same ratings in another row order give the same split
    order = np.lexsort((movies, users))
    starts, sizes = _runs(users[order])
    rng = np.random.default_rng(seed)
    kept = starts + np.floor(rng.random(len(starts)) * sizes).astype(np.int64)
    eligible = np.ones(len(users), dtype=bool)
    eligible[kept] = False
    candidates = np.flatnonzero(eligible)
    wanted = min(int(np.floor(len(users) * holdout + 1e-9)), len(candidates))
    test_sorted = np.zeros(len(users), dtype=bool)
    test_sorted[rng.choice(candidates, size=wanted, replace=False)] = True
    return _unsort(order, test_sorted)


def split(
    protocol: str,
    user_ids: npt.ArrayLike,
    movie_ids: npt.ArrayLike,
    timestamps: npt.ArrayLike,
    holdout: float = 0.2,
    seed: int = 0,
) -> Mask:
    """The named protocol's mask; `holdout` is unused by last5, `seed` only by random."""
    if protocol == "temporal":
        return temporal_split(user_ids, movie_ids, timestamps, holdout)
    if protocol == "random":
        return random_split(user_ids, movie_ids, holdout, seed)
    if protocol == "last5":
        return last_n_split(user_ids, movie_ids, timestamps, LAST_N)
    raise ValueError(f"unknown protocol {protocol!r}; expected one of {', '.join(PROTOCOLS)}")
