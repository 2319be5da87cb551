"""The holdout sample of a recluster run: the same users every run (by a hash of the user id;
min(HOLDOUT_USERS, 10% of users)), the latest HOLDOUT of each one's ratings hidden exactly as
in the offline protocol (ranking/split.py).

The co-likes table (scheduler/co_likes.py) and the item model leave the hidden liked pairs
out; scheduler/quality.py scores the default ranking on them.
"""

from dataclasses import dataclass

import numpy as np
from sqlalchemy import Connection, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import Integer

from ranking.split import temporal_split
from ranking.users import Ratings

HOLDOUT_USERS = 500
HOLDOUT = 0.2

SAMPLE_RATINGS = text(
    """
    SELECT user_id, movie_id, rating, floor(extract(epoch FROM ts))::bigint AS ts
    FROM ratings WHERE user_id = ANY(:users)
    ORDER BY user_id, ts, movie_id
    """
).bindparams(bindparam("users", type_=ARRAY(Integer)))


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


def sample_ratings(conn: Connection, sample: np.ndarray, ids: np.ndarray) -> SampleRatings:
    rows = conn.execute(SAMPLE_RATINGS, {"users": sample.tolist()}).all()
    user, movie_id, stamp = (np.array([r[i] for r in rows], dtype=np.int64) for i in (0, 1, 3))
    rating = np.array([r.rating for r in rows], dtype=np.float64)
    test = temporal_split(user, movie_id, stamp, HOLDOUT) if rows else np.zeros(0, dtype=bool)
    return SampleRatings(user, np.searchsorted(ids, movie_id), rating, stamp, test)


def hidden_pairs(ratings: Ratings, sample: SampleRatings) -> np.ndarray:
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


def _pair_key(users: np.ndarray, movies: np.ndarray) -> np.ndarray:
    return users.astype(np.int64) << 32 | movies.astype(np.int64)
