"""The temporal holdout split of the evaluation protocol.

Per user, ratings are ordered by (timestamp, movieId); the last `holdout` share (at least one
rating, for users with two or more) is held out. Ordering ties by movieId makes the split
deterministic when a user rated several movies in the same second, and it keeps the split
leak-free: no training rating of a user is later than any of that user's held-out ratings.

Shared by `cinecluster evaluate` (evaluation/) and the recluster's holdout check
(scheduler/quality.py), which may not import evaluation/: so it lives beside the ranking it judges.
"""

import numpy as np
import numpy.typing as npt


def held_out_count(n_ratings: npt.NDArray[np.int64], holdout: float) -> npt.NDArray[np.int64]:
    """Held-out ratings per user: floor(n * holdout), at least 1, none for single-rating users."""
    counts = np.maximum(1, np.floor(n_ratings * holdout + 1e-9).astype(np.int64))
    return np.where(n_ratings >= 2, np.minimum(counts, n_ratings - 1), 0)


def temporal_split(
    user_ids: npt.ArrayLike, movie_ids: npt.ArrayLike, timestamps: npt.ArrayLike, holdout: float = 0.2
) -> npt.NDArray[np.bool_]:
    """Boolean mask over the input rows: True where the rating is held out (the test part)."""
    if not 0.0 < holdout < 1.0:
        raise ValueError(f"holdout must be between 0 and 1 (exclusive), got {holdout}")
    users = np.asarray(user_ids, dtype=np.int64)
    movies = np.asarray(movie_ids, dtype=np.int64)
    stamps = np.asarray(timestamps, dtype=np.int64)
    if not len(users) == len(movies) == len(stamps):
        raise ValueError("user_ids, movie_ids and timestamps must have the same length")
    order = np.lexsort((movies, stamps, users))  # by user, then timestamp, then movie
    sorted_users = users[order]
    starts = np.flatnonzero(np.r_[True, sorted_users[1:] != sorted_users[:-1]])
    sizes = np.diff(np.r_[starts, len(users)])
    n_test = held_out_count(sizes, holdout)
    # position of each sorted row counted from its user's end: 0 = the latest rating
    from_end = np.repeat(starts + sizes, sizes) - 1 - np.arange(len(users))
    test_sorted = from_end < np.repeat(n_test, sizes)
    mask = np.empty(len(users), dtype=bool)
    mask[order] = test_sorted
    return mask
