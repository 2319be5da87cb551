""" "Liked": a rating >= 4 stars, or >= the user's own mean. Its two forms, side by side.

`liked_sql` is the SQL form (PostgreSQL and Spark SQL read the same text); `liked_mask` the
numpy form over ratings in half stars, exact with no float mean:
rating >= mean  <=>  half_stars * count >= sum(half_stars). In SQL the mean is avg(rating) of
numeric ratings: exact too, so both forms agree for every rating
(tests/scheduler/test_ranking_definition.py).
"""

import numpy as np

LIKED_STARS = 4.0


def liked_sql(rating: str, mean: str) -> str:
    """The rule as a SQL condition over a rating expression and the user's mean rating."""
    return f"({rating} >= {LIKED_STARS:g} OR {rating} >= {mean})"


def liked_mask(half_stars: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per rating: liked? Ratings grouped by user; starts[i] = first rating of user i (len users + 1)."""
    counts = np.diff(starts)
    if len(half_stars) == 0:
        return np.zeros(0, dtype=bool)
    total = np.repeat(np.add.reduceat(half_stars, starts[:-1]), counts)
    return (half_stars >= 2 * LIKED_STARS) | (half_stars * np.repeat(counts, counts) >= total)


def latest(mask: np.ndarray, starts: np.ndarray, cap: int) -> np.ndarray:
    """`mask` limited to each user's first `cap` set entries (ratings newest first: the latest)."""
    if len(mask) == 0:
        return mask
    before = np.cumsum(mask) - mask
    rank = before - np.repeat(before[starts[:-1]], np.diff(starts))
    return mask & (rank < cap)
