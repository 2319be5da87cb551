"""The default ranking in numpy, for many users at once (ranking/__init__.py defines it).

Used by the recluster's stored lists (scheduler/user_lists.py), the refresh of just-rated users
(scheduler/refresh.py) and the API's ranking of them until then (service/recommenders/fresh.py,
both through ranking/version_model.py), the Spark partitions and the run's holdout check: one
`Ranker` per model version, fed the ratings of any set of whole users. Its SQL twin is the live
statement in service/recommenders/weighted.py.

Sums are exact in float64: the weights are multiples of 2^-20 below 16 in magnitude
(scheduler/item_model.py), and the co-rating cosines the same code ranks in tests are float32
values >= 2^-18 (500 terms need at most 24 + 18 + 9 = 51 bits < 53). So the order of the sums
does not matter and SQL and numpy agree to the bit; ln(1 + ratings) is read from PostgreSQL,
for the same reason. Ties: movie id ascending, as in SQL.

Memory: the ratings given, plus one block of users at a time: a few dense (users x covered
movies) grids, at most BLOCK_CELLS cells each, plus per-version tables that follow the
weights' nonzeros (see _Scratch). Timed at 25M ratings by benchmarks/recluster.py.
"""

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ranking import (
    LIST_LENGTH,
    PROFILE_CAP,
    RECENCY,
    SEQUENCE_DECAY,
    W_AFFINITY,
    W_POPULARITY,
    W_SEQUENCE,
)
from ranking.liked import latest, liked_mask
from ranking.sparse import product
from ranking.threads import map_in_threads

BLOCK_USERS = 128  # users per block: (users x covered movies) grids of ~3 MB stay in cache
BLOCK_RATINGS = 1 << 18  # ratings per block at most (a heavier user is a block alone)
WALK_STEPS = 8  # sources looked at per pair in the first pass, doubling each pass (see _top_sources)
WALK_MAX = 512  # ... up to this many
GROUP_CELLS = 10  # grid cells per group when bounding each row's top (see _top_entries)
BLOCK_CELLS = 1 << 22  # users x covered movies per block at most (a co-rating table covers all movies)


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
    movie, unknown = movie_indices(movie_id, ids)
    return grouped_ratings(user.astype(np.int32), movie, half_stars, unknown, snapshot)


def movie_indices(movie_id: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(int32 index into `ids`, unknown?) per movie id; an unknown movie gets index 0.

    Through a lookup table by id when the ids are dense enough (a gather, ~50x faster than a
    binary search over the ids for millions of ratings)."""
    if len(ids) == 0:
        return np.zeros(len(movie_id), dtype=np.int32), np.ones(len(movie_id), dtype=bool)
    low, high = int(ids[0]), int(ids[-1])
    if high - low < max(16 * len(ids), 1 << 20) and len(movie_id) > len(ids):
        table = np.full(high - low + 2, -1, dtype=np.int32)  # last entry: any id outside
        table[ids - low] = np.arange(len(ids), dtype=np.int32)
        movie = table[np.clip(movie_id.astype(np.int64) - low, -1, high - low + 1)]
    else:
        movie = np.minimum(np.searchsorted(ids, movie_id), len(ids) - 1).astype(np.int32)
        movie[ids[movie] != movie_id] = -1
    unknown = movie < 0
    movie[unknown] = 0  # such users are not stored: the API ranks them live
    return movie, unknown


def grouped_ratings(
    user: np.ndarray, movie: np.ndarray, half_stars: np.ndarray, unknown: np.ndarray, snapshot: str
) -> Ratings:
    """Ratings from columns already in Ratings' order (movie: indices, see movie_indices)."""
    new_user = np.r_[True, user[1:] != user[:-1]] if len(user) else np.empty(0, dtype=bool)
    starts = np.r_[np.flatnonzero(new_user), len(user)]
    return Ratings(
        user=user,
        movie=movie,
        half_stars=half_stars,
        starts=starts,
        stale=_per_user_any(unknown, starts),
        snapshot=snapshot,
    )


def _per_user_any(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per user: any value set (without a ratings-sized cast for np.add.reduceat)."""
    flagged = np.zeros(max(len(starts) - 1, 0), dtype=bool)
    flagged[np.searchsorted(starts, np.flatnonzero(values), side="right") - 1] = True
    return flagged


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
    just_rated: np.ndarray  # the source is a recent rating (the next-movie term), not a liked one

    def source_ids(self, ids: np.ndarray) -> np.ndarray:
        """The sources as stored (user_recommendations.source_ids): the movie id, negated when
        the item owes most to the next-movie component ("because you just rated")."""
        source = ids.astype(np.int32)[self.source]  # int4 as stored: half the memory of int64
        np.negative(source, out=source, where=self.just_rated)
        return source

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
            self.just_rated[entries],
        )


class Ranker:
    """One version's item table (movie x movie weights), its clusters and ln(1 + ratings) per
    movie, ready to rank any users: the batch step ranks everyone once, the refresh keeps one
    per active version and ranks a few users at a time.

    `successors` (movie x movie, item_successors) adds the next-movie component; `blend` holds
    the profile's recency weights and the component's decay and weight. The default ranking has
    both at the defaults; the co-rating strategy (liked_neighbours) neither (FLAT, no
    successors); the offline evaluation sweeps the blend."""

    def __init__(
        self,
        weights: sp.csr_matrix,
        labels: np.ndarray,
        log_pop: np.ndarray,
        *,
        successors: sp.csr_matrix | None = None,
        blend: "Blend | None" = None,
        length: int = LIST_LENGTH,
        block_users: int = BLOCK_USERS,
    ) -> None:
        self.labels = labels  # the movie x movie tables are kept only as _Scratch's covered part
        self.log_pop = log_pop
        self.blend = blend or Blend()
        self.recency = None if self.blend.recency is None else np.array(self.blend.recency)
        self.decay = np.array(self.blend.sequence_decay)
        self.length = length
        self.block_users = block_users
        self.n_clusters = int(labels.max()) + 1 if len(labels) else 1
        self.scratch = _Scratch(weights, labels, log_pop, successors)

    def nbytes(self) -> int:
        """Bytes of the arrays this ranker holds (the API keeps one per process)."""
        return self.labels.nbytes + self.log_pop.nbytes + self.scratch.nbytes()

    def rank(
        self, ratings: Ratings, threads: int = 1, length: int | None = None
    ) -> tuple[UserLists, np.ndarray]:
        """Top `length` (default: the Ranker's) of every user's ranking, and each user's
        cluster shares (one row per user of `ratings`). A shorter length gives a prefix of the
        same lists (the API ranks only as far as the page it serves).

        `threads` > 1 ranks that many blocks at once (ranking/threads.py); each block writes
        its own users' rows of `shares`."""
        length = self.length if length is None else length
        n_users = len(ratings.starts) - 1
        shares = np.zeros((n_users, self.n_clusters))
        width = max(len(self.scratch.covered), 1)
        blocks = list(_blocks(ratings.starts, max(1, min(self.block_users, BLOCK_CELLS // width))))
        parts = map_in_threads(
            lambda span: self._rank_block(ratings, span[0], span[1], shares, length), blocks, threads, "rank"
        )
        if not parts:
            empty = np.empty(0, dtype=np.int64)
            lists = UserLists(empty, np.zeros(1, np.int64), empty, np.empty(0), empty, np.empty(0, bool))
            return lists, shares
        user, movie, score, source, just_rated = _joined(parts)
        first = np.flatnonzero(np.r_[len(user) > 0, user[1:] != user[:-1]])  # blocks in order: sorted
        return UserLists(user[first], np.r_[first, len(user)], movie, score, source, just_rated), shares

    def _rank_block(
        self, ratings: Ratings, first: int, last: int, shares: np.ndarray, length: int
    ) -> tuple[np.ndarray, ...]:
        """Users first..last-1: their shares (written into `shares`) and ranked entries."""
        lo, hi = ratings.starts[first], ratings.starts[last]
        bounds = ratings.starts[first : last + 1] - lo
        owner = np.repeat(np.arange(last - first), np.diff(bounds))
        movie = ratings.movie[lo:hi]
        recency = np.arange(hi - lo) - bounds[owner]  # 0 = the user's newest rating
        profile = latest(liked_mask(ratings.half_stars[lo:hi], bounds), bounds, PROFILE_CAP)
        weights = self.recency
        weight = None if weights is None else weights[np.minimum(recency[profile], len(weights) - 1)]
        recent = recency < len(self.decay)
        block = _Block(
            first,
            last,
            owner[profile],
            movie[profile],
            weight,
            owner,
            movie,
            owner[recent],
            movie[recent],
            self.decay[recency[recent]],
        )
        k = self.n_clusters
        cells = np.bincount(block.user * k + self.labels[block.movie], minlength=(last - first) * k)
        per_cluster = cells.reshape(last - first, k).astype(np.float64)
        shares[first:last] = per_cluster / np.maximum(per_cluster.sum(axis=1, keepdims=True), 1.0)
        return _rank_block(block, self.scratch, shares[first:last], length, self.blend.w_sequence)


@dataclass(frozen=True)
class Blend:
    """The ranking's weights (ranking/__init__.py): the stored lists and the SQL use the
    defaults; the offline evaluation ranks with others in numpy to sweep them."""

    recency: tuple[float, ...] | None = RECENCY  # profile weight by recency; None: 1 each
    sequence_decay: tuple[float, ...] = SEQUENCE_DECAY  # recent weight by recency (its length: how many)
    w_sequence: float = W_SEQUENCE


FLAT = Blend(recency=None)  # the co-rating strategy's profile


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


def _joined(parts: list[tuple[np.ndarray, ...]]) -> list[np.ndarray]:
    """The blocks' columns concatenated one column at a time, each column's parts dropped once
    copied (the lists are hundreds of MB at 25M ratings: never all of them twice)."""
    columns = [list(column) for column in zip(*parts, strict=True)]
    parts.clear()
    joined = []
    for column in columns:
        joined.append(np.concatenate(column))
        column.clear()
    return joined


def _blocks(starts: np.ndarray, block_users: int) -> Iterator[tuple[int, int]]:
    """User ranges of at most block_users users and ~BLOCK_RATINGS ratings (a heavier user
    alone): the (users x covered movies) grids and the ratings' temporaries stay bounded."""
    start, n = 0, len(starts) - 1
    while start < n:
        stop = int(np.searchsorted(starts, starts[start] + BLOCK_RATINGS, side="right")) - 1
        stop = min(max(stop, start + 1), start + block_users, n)
        yield start, stop
        start = stop


@dataclass
class _Block:
    first: int  # users first..last-1 (positions in Ratings.users)
    last: int
    user: np.ndarray  # profile entries: user - first
    movie: np.ndarray  # profile entries: movie index
    weight: np.ndarray | None  # profile entries: RECENCY weight (None: 1 each)
    rated_user: np.ndarray  # every rating of the block: user - first
    rated_movie: np.ndarray  # every rating of the block: movie index
    recent_user: np.ndarray  # the SEQUENCE_RECENT newest ratings of each user: user - first
    recent_movie: np.ndarray
    recent_weight: np.ndarray  # SEQUENCE_DECAY by recency


class _Scratch:
    """Per-version tables, in the space of the movies the weights and successors cover (their
    rows and columns: the item model's ~3,000), so memory follows their nonzeros, not the
    catalogue, and ranking a few users costs a few small products.

    weights, successors: covered x covered; for each covered movie, the covered movies with a
    positive weight (successor weight) to it, by weight descending then movie ascending (SQL's
    order), so a candidate's source is the first of them in the user's profile (recent
    ratings). Only positive weights: a candidate's source term is positive, so its top source
    always is one.
    """

    def __init__(
        self,
        weights: sp.csr_matrix,
        labels: np.ndarray,
        log_pop: np.ndarray,
        successors: sp.csr_matrix | None,
    ) -> None:
        weights = sp.csr_matrix(weights)
        tables = [weights] if successors is None else [weights, sp.csr_matrix(successors)]
        rows = [np.flatnonzero(np.diff(t.indptr)) for t in tables]
        self.covered = np.unique(np.concatenate([*rows, *(t.indices for t in tables)])).astype(np.int64)
        n_covered = len(self.covered)
        self.local = np.full(weights.shape[0], -1, dtype=np.int32)  # movie index -> covered position
        self.local[self.covered] = np.arange(n_covered, dtype=np.int32)
        self.labels = labels[self.covered]
        self.log_pop = log_pop[self.covered]
        # covered positions by ln(1 + ratings) descending (only for values >= 0, as it is: the
        # maximum over a user's candidates, floored at 0, is then the first candidate's value)
        self.by_pop = None if (self.log_pop < 0).any() else np.argsort(-self.log_pop, kind="stable")
        self.weights = weights[self.covered][:, self.covered].tocsr()
        self.sources = _Sources(self.weights)
        self.successors = None if successors is None else tables[1][self.covered][:, self.covered].tocsr()
        self.recent_sources = None if self.successors is None else _Sources(self.successors)

    def nbytes(self) -> int:
        arrays = [self.covered, self.local, self.labels, self.log_pop, self.by_pop]
        tables = [t for t in (self.weights, self.successors) if t is not None]
        held = sum(a.nbytes for a in arrays if a is not None)
        held += sum(t.data.nbytes + t.indices.nbytes + t.indptr.nbytes for t in tables)
        return held + sum(src.nbytes() for src in (self.sources, self.recent_sources) if src is not None)


class _Sources:
    """For each covered movie: the covered movies with a positive weight to it, by weight
    descending then movie ascending; source_of[source_start[j]:source_start[j + 1]]."""

    def __init__(self, table: sp.csr_matrix) -> None:
        positive = table.tocoo()
        keep = positive.data > 0
        source, target, value = positive.row[keep], positive.col[keep], positive.data[keep]
        order = np.lexsort((source, -value, target))
        # padded: a pass's window may run past the last movie's sources (masked)
        self.padded = np.zeros(len(order) + WALK_MAX, dtype=np.int32)
        self.padded[: len(order)] = source[order]
        self.source_of = self.padded[: len(order)]  # a view: the ranker is held per process
        self.source_start = np.r_[0, np.cumsum(np.bincount(target, minlength=table.shape[1]))]

    def nbytes(self) -> int:
        return self.padded.nbytes + self.source_start.nbytes


def _per_user(
    user: np.ndarray, movie: np.ndarray, weight: np.ndarray | None, b: int, scratch: _Scratch
) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """(users x covered) matrix of the entries' weights (1 without), and the entries inside
    the covered movies (user, covered position); entries outside add nothing."""
    local = scratch.local[movie]
    inside = local >= 0
    user, local = user[inside], local[inside]
    data = np.ones(len(local)) if weight is None else weight[inside]
    indptr = np.r_[0, np.cumsum(np.bincount(user, minlength=b))]
    return sp.csr_matrix((data, local, indptr), shape=(b, len(scratch.covered))), user, local


def _rank_block(
    block: _Block, scratch: _Scratch, shares: np.ndarray, length: int, w_sequence: float
) -> tuple[np.ndarray, ...]:
    """Every user's top `length` (score descending, then movie) over the covered movies, in
    dense (users x covered) grids: the sums are exact, so how they are added does not matter."""
    b, n_covered = block.last - block.first, len(scratch.covered)
    liked, user, profile = _per_user(block.user, block.movie, block.weight, b, scratch)
    sums = product(liked, scratch.weights).toarray()
    rated = scratch.local[block.rated_movie]
    seen = rated >= 0
    sums[block.rated_user[seen], rated[seen]] = 0.0  # never a movie the user rated
    candidate = sums > 0
    max_sim = sums.max(axis=1, initial=0.0)
    max_sim[max_sim == 0] = 1.0  # no positive sum: the term is the sum itself (0 for candidates)
    following = None
    if scratch.successors is not None:
        recent, recent_user, recent_movie = _per_user(
            block.recent_user, block.recent_movie, block.recent_weight, b, scratch
        )
        following = product(recent, scratch.successors).toarray()
        following[block.rated_user[seen], rated[seen]] = 0.0
        candidate |= following > 0
        max_next = following.max(axis=1, initial=0.0)
        max_next[max_next == 0] = 1.0
    if scratch.by_pop is None:
        max_pop = np.where(candidate, scratch.log_pop, 0.0).max(axis=1, initial=0.0)
    else:  # the same maximum: the first candidate in the movies' order by ln(1 + ratings)
        best = scratch.by_pop[np.take(candidate, scratch.by_pop, axis=1).argmax(axis=1)]
        max_pop = np.where(candidate[np.arange(b), best], scratch.log_pop[best], 0.0)
    max_pop[max_pop == 0] = np.inf  # pop 0 (x / inf), as the candidates' maximum 0 gives in SQL
    # score = sum / best sum [+ W_SEQUENCE * (next / best next)] + W_AFFINITY * share
    # + W_POPULARITY * pop, added in that order (as SQL does: the same bits), in place: a few
    # passes over the grid; -inf for the non-candidates stays -inf
    score = np.where(candidate, sums, -np.inf)
    score /= max_sim[:, None]
    if following is not None:
        term = following / max_next[:, None]
        term *= w_sequence
        score += term
        del term
    score += np.take(W_AFFINITY * shares, scratch.labels, axis=1)
    pop = np.divide(scratch.log_pop, max_pop[:, None])
    pop *= W_POPULARITY
    score += pop
    row, column, top = _top_entries(score, candidate, length)
    in_profile = np.zeros((b, n_covered), dtype=bool)
    in_profile[user, profile] = True
    just_rated = np.zeros(len(row), dtype=bool)
    if following is not None:
        # the larger term names the source: the same two quotients as in the score
        item_term = sums[row, column] / max_sim[row]
        next_term = w_sequence * (following[row, column] / max_next[row])
        just_rated = next_term > item_term
    source = np.zeros(len(row), dtype=np.int64)
    by_item = ~just_rated
    source[by_item] = _top_sources(row[by_item], column[by_item], in_profile, scratch.sources)
    if just_rated.any() and scratch.recent_sources is not None:
        in_recent = np.zeros((b, n_covered), dtype=bool)
        in_recent[recent_user, recent_movie] = True
        source[just_rated] = _top_sources(
            row[just_rated], column[just_rated], in_recent, scratch.recent_sources
        )
    movie, source = scratch.covered[column].astype(np.int32), scratch.covered[source].astype(np.int32)
    return (row + block.first).astype(np.int32), movie, top, source, just_rated


def _top_entries(
    score: np.ndarray, candidate: np.ndarray, length: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's top `length` candidates (row, column, score), by row, then score descending,
    then column (the lower movie id first among equal scores).

    Without a partition of the whole grid (~40 ns a cell): the grid's columns in groups of
    GROUP_CELLS, the `length`-th largest group maximum is a lower bound of the row's
    `length`-th largest score (that many groups hold a score at least as large), and only the
    cells at or above it (~1.5 x length a row) are sorted. Non-candidates are -inf."""
    b, width = score.shape
    keep = min(length, width)
    groups = width // GROUP_CELLS
    if keep == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, np.empty(0)
    if groups > keep:
        cells = score[:, : groups * GROUP_CELLS].reshape(b, groups, GROUP_CELLS)
        maxima = cells[:, :, 0].copy()
        for i in range(1, GROUP_CELLS):  # a pass per cell of the group: 3x faster than max(axis=2)
            np.maximum(maxima, cells[:, :, i], out=maxima)
        bound = np.partition(maxima, groups - keep, axis=1)[:, groups - keep]
        survives = score >= bound[:, None]
        survives &= candidate
    else:  # a narrow grid: every candidate
        survives = candidate
    row, column = np.nonzero(survives)
    top = score[row, column]
    order = np.lexsort((column, -top, row))
    row, column, top = row[order], column[order], top[order]
    rank = np.arange(len(row)) - np.searchsorted(row, row)
    kept = rank < keep
    return row[kept], column[kept], top[kept]


def _top_sources(
    row: np.ndarray, column: np.ndarray, in_profile: np.ndarray, scratch: _Sources
) -> np.ndarray:
    """For each kept (user, covered movie): the profile movie with the highest weight to it
    (ties: lower movie index), as SQL's array_agg(movie_id ORDER BY weight DESC, movie_id)[1].

    Each pair walks its movie's positive sources in that order until one is in the user's
    profile, WALK_STEPS at a time in the first pass and twice as many in each next one, up to
    WALK_MAX (half the pairs stop within the first few, yet 1% walk hundreds at 25M ratings: a
    fixed step would pay the passes' overhead ~80 times per block for those few pairs)."""
    source = np.zeros(len(row), dtype=np.int64)
    width = in_profile.shape[1]
    flat = in_profile.ravel()
    pending = np.arange(len(row))
    at = scratch.source_start[column]
    end = scratch.source_start[column + 1]
    base = row.astype(np.int64) * width
    walk = WALK_STEPS
    while len(pending):
        window = at[:, None] + np.arange(walk)  # past the end: another movie's sources, masked
        candidate = scratch.padded[window]
        hit = flat[base[:, None] + candidate] & (window < end[:, None])
        found = hit.any(axis=1)
        first = hit.argmax(axis=1)[found]
        source[pending[found]] = candidate[found, first]
        if (~found & (at + walk >= end)).any():
            raise AssertionError("a candidate without a positive source in the profile")
        pending, at, end, base = pending[~found], at[~found] + walk, end[~found], base[~found]
        walk = min(2 * walk, WALK_MAX)
    return source
