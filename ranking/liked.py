""" "Liked": a rating >= 4 stars, or >= the user's own mean. Its two forms, side by side.

`liked_sql` is the SQL form (PostgreSQL and Spark SQL read the same text); `liked_mask` the
numpy form over ratings in half stars, exact with no float mean:
rating >= mean  <=>  half_stars * count >= sum(half_stars). In SQL the mean is avg(rating) of
numeric ratings: exact too, so both forms agree for every rating
(tests/scheduler/test_ranking_definition.py).
"""

from collections.abc import Iterator

import numpy as np

LIKED_STARS = 4.0
BLOCK_RATINGS = 1 << 20  # ratings per pass over whole users: temporaries of a few MB, never ratings-sized


def liked_sql(rating: str, mean: str) -> str:
    """The rule as a SQL condition over a rating expression and the user's mean rating."""
    return f"({rating} >= {LIKED_STARS:g} OR {rating} >= {mean})"


def liked_mask(half_stars: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per rating: liked? Ratings grouped by user; starts[i] = first rating of user i (len users + 1).

    With whole numbers, half_stars >= sum / count <=> half_stars >= ceil(sum / count), so the
    rule is one comparison with a per-user threshold: min(8, ceil(sum / count)) half stars."""
    liked = np.zeros(len(half_stars), dtype=bool)
    for lo, hi, bounds in user_blocks(starts):
        half, counts = half_stars[lo:hi], np.diff(bounds)
        total = np.add.reduceat(half, bounds[:-1], dtype=np.int64)
        ceiling = -(-total // np.maximum(counts, 1))
        threshold = np.minimum(ceiling, int(2 * LIKED_STARS)).astype(np.int16)
        liked[lo:hi] = half >= np.repeat(threshold, counts)
    return liked


def latest(mask: np.ndarray, starts: np.ndarray, cap: int) -> np.ndarray:
    """`mask` limited to each user's first `cap` set entries (ratings newest first: the latest)."""
    kept = np.zeros(len(mask), dtype=bool)
    for lo, hi, bounds in user_blocks(starts):
        part = mask[lo:hi]
        before = np.cumsum(part) - part
        rank = before - np.repeat(before[bounds[:-1]], np.diff(bounds))
        kept[lo:hi] = part & (rank < cap)
    return kept


def user_blocks(starts: np.ndarray, size: int = BLOCK_RATINGS) -> Iterator[tuple[int, int, np.ndarray]]:
    """(first rating, end, the block's user starts from 0) for runs of whole users of about
    `size` ratings (a user with more is a block alone); users without ratings are skipped."""
    first, n = 0, len(starts) - 1
    while first < n:
        last = int(np.searchsorted(starts, starts[first] + size, side="right")) - 1
        last = min(max(last, first + 1), n)
        bounds = starts[first : last + 1]
        bounds = np.unique(bounds) if (np.diff(bounds) == 0).any() else bounds  # no empty users
        if len(bounds) > 1:
            yield int(bounds[0]), int(bounds[-1]), bounds - bounds[0]
        first = last
