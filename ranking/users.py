"""The default ranking in numpy, for many users at once (ranking/__init__.py defines it).

Used by the recluster's stored lists (scheduler/user_lists.py), the refresh of just-rated users
(scheduler/refresh.py), the Spark partitions and the run's holdout check: one `Ranker` per
model version, fed the ratings of any set of whole users. Its SQL twin is the live statement in
service/recommenders/weighted.py.

Sums are exact in float64: the weights are multiples of 2^-20 below 16 in magnitude
(scheduler/item_model.py), and the co-rating cosines the same code ranks in tests are float32
values >= 2^-18 (500 terms need at most 24 + 18 + 9 = 51 bits < 53). So the order of the sums
does not matter and SQL and numpy agree to the bit; ln(1 + ratings) is read from PostgreSQL,
for the same reason. Ties: movie id ascending, as in SQL.

Memory: the ratings given, plus one block of at most BLOCK_PROFILE profile entries x the
weights kept per movie, expanded, plus per-version lookup tables (see _Scratch).
"""

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ranking import LIST_LENGTH, PROFILE_CAP, W_AFFINITY, W_POPULARITY
from ranking.liked import latest, liked_mask

BLOCK_PROFILE = 25_000  # profile entries per block (x ~50 neighbours each); 100k was 15% slower
BLOCK_USERS = 1_000  # users per block: bounds the users x movies scratch grids (~5 bytes a cell)


@dataclass
class Ratings:
    """All ratings, grouped by user; within a user newest first (ts, then movie id, descending)."""

    user: np.ndarray  # user id per rating
    movie: np.ndarray  # movie index (into the version's sorted movie ids)
    half_stars: np.ndarray  # rating * 2
    starts: np.ndarray  # first rating of each user; len(users) + 1 entries
    stale: np.ndarray  # per user: rated a movie the version has no features for (added meanwhile)
    snapshot: str  # pg_snapshot the ratings were read under

    @property
    def users(self) -> np.ndarray:
        return self.user[self.starts[:-1]]


def ratings_from(columns: dict[str, np.ndarray], ids: np.ndarray, snapshot: str) -> Ratings:
    """Ratings from int64 columns user, movie (ids), half_stars, micros in any order (also the
    Spark engine's partitions); takes the columns out of the dict, so each intermediate is
    dropped as soon as it is copied on."""
    user, movie_id, micros = (columns.pop(f) for f in ("user", "movie", "micros"))
    half = columns.pop("half_stars")
    order = np.lexsort((-movie_id, -micros, user))
    del micros
    half_stars = half[order].astype(np.int64)
    del half
    user, movie_id = user[order], movie_id[order]
    del order
    new_user = np.r_[True, user[1:] != user[:-1]] if len(user) else np.empty(0, dtype=bool)
    starts = np.r_[np.flatnonzero(new_user), len(user)]
    movie = np.minimum(np.searchsorted(ids, movie_id), max(len(ids) - 1, 0))
    unknown = ids[movie] != movie_id if len(ids) else np.ones(len(movie), dtype=bool)
    movie[unknown] = 0  # such users are not stored: the API ranks them live
    return Ratings(
        user=user.astype(np.int32),
        movie=movie.astype(np.int32),
        half_stars=half_stars,
        starts=starts,
        stale=_per_user_sum(unknown.astype(np.int64), starts) > 0,
        snapshot=snapshot,
    )


def _per_user_sum(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    if len(starts) < 2:
        return np.zeros(0, dtype=values.dtype)
    return np.add.reduceat(values, starts[:-1])


def profile_mask(ratings: Ratings) -> np.ndarray:
    """The profile: each user's latest PROFILE_CAP liked ratings."""
    return latest(liked_mask(ratings.half_stars, ratings.starts), ratings.starts, PROFILE_CAP)


@dataclass
class UserLists:
    """Flat, user by user (in the order of `user`): movie indices, scores and sources."""

    user: np.ndarray  # position in Ratings.users
    offsets: np.ndarray
    movie: np.ndarray
    score: np.ndarray
    source: np.ndarray

    def without(self, drop: np.ndarray) -> "UserLists":
        """These lists minus the users where `drop` (one flag per listed user) is set."""
        if not drop.any():
            return self
        sizes = np.diff(self.offsets)
        entries = np.repeat(~drop, sizes)
        return UserLists(
            self.user[~drop],
            np.r_[0, np.cumsum(sizes[~drop])],
            self.movie[entries],
            self.score[entries],
            self.source[entries],
        )


class Ranker:
    """One version's item table (movie x movie weights), its clusters and ln(1 + ratings) per
    movie, ready to rank any users: the batch step ranks everyone once, the refresh keeps one
    per active version and ranks a few users at a time."""

    def __init__(
        self,
        weights: sp.csr_matrix,
        labels: np.ndarray,
        log_pop: np.ndarray,
        *,
        length: int = LIST_LENGTH,
        block_users: int = BLOCK_USERS,
    ) -> None:
        self.weights = weights
        self.labels = labels
        self.log_pop = log_pop
        self.length = length
        self.block_users = block_users
        self.n_clusters = int(labels.max()) + 1 if len(labels) else 1
        self.scratch = _Scratch(weights)

    def rank(self, ratings: Ratings) -> tuple[UserLists, np.ndarray]:
        """Top `length` of every user's ranking, and each user's cluster shares (one row per
        user of `ratings`)."""
        profile = profile_mask(ratings)
        n_users = len(ratings.starts) - 1
        owner = np.repeat(np.arange(n_users), np.diff(ratings.starts))
        liked_owner, liked_movie = owner[profile], ratings.movie[profile]
        per_cluster = np.zeros((n_users, self.n_clusters))
        np.add.at(per_cluster, (liked_owner, self.labels[liked_movie]), 1.0)
        shares = per_cluster / np.maximum(per_cluster.sum(axis=1, keepdims=True), 1.0)
        parts: list[tuple[np.ndarray, ...]] = []
        self.scratch.fit(min(self.block_users, n_users))
        sizes = np.bincount(liked_owner, minlength=n_users)
        for first, last in _blocks(sizes, self.block_users):
            lo, hi = np.searchsorted(liked_owner, [first, last])  # profile entries are grouped by user
            block = _Block(first, last, liked_owner[lo:hi] - first, liked_movie[lo:hi])
            parts.append(self._rank_block(block, ratings, shares[first:last]))
        if not parts:
            empty = np.empty(0, dtype=np.int64)
            return UserLists(empty, np.zeros(1, np.int64), empty, np.empty(0), empty), shares
        user, movie, score, source = (np.concatenate(p) for p in zip(*parts, strict=True))
        users, counts = np.unique(user, return_counts=True)
        return UserLists(users, np.r_[0, np.cumsum(counts)], movie, score, source), shares

    def _rank_block(self, block: "_Block", ratings: Ratings, shares: np.ndarray) -> tuple[np.ndarray, ...]:
        return _rank_block(block, ratings, self.scratch, self.labels, self.log_pop, shares, self.length)


def top_with_popular(
    lists: UserLists, ratings: Ratings, rating_counts: np.ndarray, k: int
) -> list[np.ndarray]:
    """Each user's first k movies (one array per user of `ratings`): the ranked list, then, when
    the candidates ran out, the most rated movies the user has not rated (ties: lower index).
    `lists` must come from a Ranker of length >= k."""
    by_popularity = np.lexsort((np.arange(len(rating_counts)), -rating_counts))
    listed = dict(zip(lists.user.tolist(), range(len(lists.user)), strict=True))
    result = []
    for position in range(len(ratings.starts) - 1):
        i = listed.get(position)
        top = lists.movie[lists.offsets[i] : lists.offsets[i + 1]][:k] if i is not None else np.empty(0, int)
        if len(top) < k:
            taken = np.zeros(len(rating_counts), dtype=bool)
            taken[ratings.movie[ratings.starts[position] : ratings.starts[position + 1]]] = True
            taken[top] = True
            top = np.r_[top, by_popularity[~taken[by_popularity]][: k - len(top)]]
        result.append(top.astype(np.int64))
    return result


def _blocks(profile_sizes: np.ndarray, block_users: int) -> Iterator[tuple[int, int]]:
    """User ranges of at most block_users users and ~BLOCK_PROFILE profile entries."""
    work = np.cumsum(profile_sizes)
    start, n = 0, len(profile_sizes)
    while start < n:
        base = work[start - 1] if start else 0
        stop = int(np.searchsorted(work, base + BLOCK_PROFILE, side="right"))
        stop = min(max(stop, start + 1), start + block_users, n)
        yield start, stop
        start = stop


@dataclass
class _Block:
    first: int  # users first..last-1 (positions in Ratings.users)
    last: int
    user: np.ndarray  # profile entries: user - first
    movie: np.ndarray  # profile entries: movie index


class _Scratch:
    """Per-version lookup tables, reused by every block (set and reset sparsely, never re-zeroed).

    neighbours/codes: each movie's positively weighted neighbours as a dense (movies x width)
    table, so a block gathers whole rows at once; codes order them as SQL does (weight desc,
    movie asc). Only positive weights: a candidate's sum is positive, so its top source always
    is (dropping the negative ones made the sources 20% cheaper at 25M ratings).
    slot/rated: users x movies scratch grids for "is (user, movie) wanted / rated" lookups,
    allocated for the largest block seen (at most block_users rows).
    """

    def __init__(self, similar: sp.csr_matrix) -> None:
        n = similar.shape[0]
        self.similar = similar
        positive = similar.multiply(similar > 0).tocsr()
        positive.sort_indices()
        sizes = np.diff(positive.indptr)
        width = max(int(sizes.max()) if n else 0, 1)
        row = np.repeat(np.arange(n), sizes)
        column = np.arange(len(row)) - np.repeat(positive.indptr[:-1], sizes)
        self.neighbours = np.full((n, width), n, dtype=np.int32)  # n: an always-empty padding column
        self.neighbours[row, column] = positive.indices
        # float32 bits of a positive number sort like the number: bits << 32 orders by weight
        bits = positive.data.astype(np.float32).view(np.int32).astype(np.int64)
        self.codes = np.zeros((n, width), dtype=np.int64)
        self.codes[row, column] = bits << 32
        self.slot = np.full((0, n + 1), -1, dtype=np.int32)
        self.rated = np.zeros((0, n + 1), dtype=bool)

    def fit(self, users: int) -> None:
        """Grids with at least `users` rows."""
        if len(self.slot) < users:
            self.slot = np.full((users, self.slot.shape[1]), -1, dtype=np.int32)
            self.rated = np.zeros((users, self.rated.shape[1]), dtype=bool)


def _rank_block(
    block: _Block,
    ratings: Ratings,
    scratch: _Scratch,
    labels: np.ndarray,
    log_pop: np.ndarray,
    shares: np.ndarray,
    length: int,
) -> tuple[np.ndarray, ...]:
    b, n_movies = block.last - block.first, scratch.similar.shape[0]
    profile = sp.csr_matrix((np.ones(len(block.user)), (block.user, block.movie)), shape=(b, n_movies))
    sums = (profile @ scratch.similar).tocsr()
    row = np.repeat(np.arange(b), np.diff(sums.indptr))
    # never a movie the user rated
    lo, hi = ratings.starts[block.first], ratings.starts[block.last]
    rated_user = np.repeat(np.arange(b), np.diff(ratings.starts[block.first : block.last + 1]))
    scratch.rated[rated_user, ratings.movie[lo:hi]] = True
    fresh = ~scratch.rated[row, sums.indices] & (sums.data > 0)  # candidates: a positive sum
    scratch.rated[rated_user, ratings.movie[lo:hi]] = False
    row, movie, sim = row[fresh], sums.indices[fresh].astype(np.int64), sums.data[fresh]
    counts = np.bincount(row, minlength=b)
    indptr = np.r_[0, np.cumsum(counts)]
    present = counts > 0
    max_sim, max_pop = np.zeros(b), np.zeros(b)
    if len(sim):
        max_sim[present] = np.maximum.reduceat(sim, indptr[:-1][present])
        max_pop[present] = np.maximum.reduceat(log_pop[movie], indptr[:-1][present])
    pop_max = max_pop[row]
    pop = np.divide(log_pop[movie], pop_max, out=np.zeros(len(movie)), where=pop_max != 0)
    score = sim / max_sim[row] + W_AFFINITY * shares[row, labels[movie]] + W_POPULARITY * pop
    keep = _top_per_row(score, indptr, length)
    keep = keep[np.lexsort((movie[keep], -score[keep], row[keep]))]
    row_kept = row[keep]
    first_of_row = np.r_[True, row_kept[1:] != row_kept[:-1]] if len(keep) else keep.astype(bool)
    group_start = np.maximum.accumulate(np.where(first_of_row, np.arange(len(keep)), 0))
    keep = keep[np.arange(len(keep)) - group_start < length]
    source = _top_sources(row[keep], movie[keep], block, scratch)
    return row[keep] + block.first, movie[keep], score[keep], source


def _top_per_row(score: np.ndarray, indptr: np.ndarray, length: int) -> np.ndarray:
    """Entries that can be in their row's top `length` (all ties at the boundary included)."""
    counts = np.diff(indptr)
    keep = [np.flatnonzero(np.repeat(counts <= length, counts))]
    for r in np.flatnonzero(counts > length):
        part = score[indptr[r] : indptr[r + 1]]
        threshold = np.partition(part, len(part) - length)[len(part) - length]
        keep.append(indptr[r] + np.flatnonzero(part >= threshold))
    return np.sort(np.concatenate(keep))


def _top_sources(row: np.ndarray, movie: np.ndarray, block: _Block, scratch: _Scratch) -> np.ndarray:
    """For each kept (user, movie): the profile movie with the highest similarity to it (ties:
    lower movie index), as SQL's array_agg(movie_id ORDER BY similarity DESC, movie_id)[1].

    Every profile movie's neighbour row is gathered whole; entries that are a kept pair vote
    with code = similarity bits << 32 | (2^31 - 1 - source), and the largest code wins."""
    width = scratch.neighbours.shape[1]
    neighbours = scratch.neighbours[block.movie].ravel()  # whole rows: contiguous reads
    # most neighbour entries are no kept movie of anyone in the block: drop them with a small
    # (cache-resident) per-movie flag before the users x movies grid lookup
    any_user = np.zeros(len(scratch.neighbours) + 1, dtype=bool)
    any_user[movie] = True
    entry = np.flatnonzero(any_user[neighbours])
    profile_entry = entry // width
    scratch.slot[row, movie] = np.arange(len(row), dtype=np.int32)
    slots = scratch.slot[block.user[profile_entry], neighbours[entry]]
    scratch.slot[row, movie] = -1
    hit = slots >= 0
    entry, profile_entry, slots = entry[hit], profile_entry[hit], slots[hit]
    codes = scratch.codes.ravel()[block.movie[profile_entry] * width + entry % width]
    codes |= np.int64(2**31 - 1) - block.movie[profile_entry]
    best = np.zeros(len(row), dtype=np.int64)
    np.maximum.at(best, slots, codes)
    return np.int64(2**31 - 1) - (best & np.int64(2**32 - 1))
