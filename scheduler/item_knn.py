"""Global co-rating neighbours ("people who liked X also liked Y"), computed sparsely.

For the default user ranking and /recommend/movie. A movie's vector is the set of users who
*liked* it (rating >= 4 or >= the user's own mean, the same definition the API uses for a
profile); similarity is the cosine of two such vectors, i.e. co_likes / sqrt(likes_a * likes_b).
The offline evaluation chose this over all-rated or rating-valued vectors (docs/evaluation.md).

Cost (what this pulls into Python): one (user, movie) pair per liked rating, as two int32
arrays (PostgreSQL packs them into a few hundred bytea chunks) -- at 25M ratings about half
of them, ~12M pairs, ~100 MB -- plus a CSR matrix and its transpose of the same size. The
co-occurrence product is computed one block of movies at a time (a dense block of
`block_rows x movies` float32, <= ~64 MB) and only the top TOP_N per movie is kept, so memory
is bounded by the pairs, never movies x movies (~15 GB at 62k movies). CPU grows with the sum
over users of (liked movies)^2 plus movies^2 for the dense blocks.
"""

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sqlalchemy import Connection, text

from scheduler.versions import copy_partition

TOP_N = 50
# The default user ranking (service/recommenders/liked_neighbours.py) and its holdout check in
# the recluster job (scheduler/quality.py) share these; docs/evaluation.md has the sweep.
PROFILE_CAP = 500  # most recent liked movies per user; NDCG is unchanged at 500, cost is bounded
W_AFFINITY = 0.1  # + share of the user's liked movies in the candidate's cluster
W_POPULARITY = 0.05  # + ln(1 + ratings) over the candidates' maximum
BLOCK_BYTES = 64 * 2**20  # dense similarity block per step

# "Liked", shared with the API's SQL (service/recommenders): the same rule on both sides.
LIKED_SQL = """
    SELECT r.user_id, r.movie_id
    FROM ratings r
    JOIN (SELECT user_id, avg(rating) AS mean FROM ratings GROUP BY user_id) u USING (user_id)
    WHERE r.rating >= 4 OR r.rating >= u.mean
"""


def fetch_int_pairs(conn: Connection, select_sql: str) -> tuple[np.ndarray, np.ndarray]:
    """Two int4 columns of a query as numpy arrays, without a Python object per row.

    PostgreSQL packs the pairs into one big-endian bytea per bucket of 1,024 first-column
    values (a few hundred rows at 25M ratings), and numpy decodes each in one call. (Binary
    COPY would hand libpq's rows over one at a time: 12M Python iterations at 25M ratings.)
    """
    firsts: list[np.ndarray] = []
    seconds: list[np.ndarray] = []
    packed = text(
        f"""
        SELECT string_agg(int4send(p.a) || int4send(p.b), ''::bytea)
        FROM ({select_sql}) AS p(a, b)
        GROUP BY p.a / 1024
        """
    )
    for (chunk,) in conn.execute(packed):
        pairs = np.frombuffer(chunk, dtype=">i4").reshape(-1, 2)
        firsts.append(pairs[:, 0].astype(np.int32))
        seconds.append(pairs[:, 1].astype(np.int32))
    if not firsts:
        return np.empty(0, np.int32), np.empty(0, np.int32)
    return np.concatenate(firsts), np.concatenate(seconds)


@dataclass
class ItemNeighbours:
    """Flat arrays, one entry per (movie, rank); movie indices point into the caller's id list."""

    movie: np.ndarray
    rank: np.ndarray
    neighbour: np.ndarray
    similarity: np.ndarray
    co_likes: np.ndarray

    def as_matrix(self, n_movies: int) -> sp.csr_matrix:
        """movie x neighbour similarity matrix (TOP_N entries per row): profile @ it = scores."""
        return sp.csr_matrix(
            (self.similarity.astype(np.float64), (self.movie, self.neighbour)), shape=(n_movies, n_movies)
        )


def liked_matrix(user_idx: np.ndarray, movie_idx: np.ndarray, n_movies: int) -> sp.csr_matrix:
    """users x movies 0/1 matrix (float32) of liked pairs; users renumbered densely."""
    _, users = np.unique(user_idx, return_inverse=True)
    ones = np.ones(len(users), dtype=np.float32)
    n_users = int(users.max()) + 1 if len(users) else 0
    return sp.csr_matrix((ones, (users, movie_idx)), shape=(n_users, n_movies))


def _blocks(n_movies: int) -> Iterator[tuple[int, int]]:
    rows = max(1, BLOCK_BYTES // (4 * max(n_movies, 1)))
    for start in range(0, n_movies, rows):
        yield start, min(start + rows, n_movies)


def top_neighbours(liked: sp.csr_matrix, top_n: int = TOP_N) -> ItemNeighbours:
    """Top-n cosine neighbours of every movie from a users x movies 0/1 matrix, block by block.

    Each block is one dense float32 array turned into cosines in place (no temporaries of the
    block's size); co-like counts are recovered for the kept pairs only.
    """
    n_movies = liked.shape[1]
    k = min(top_n, n_movies - 1)
    by_movie = liked.T.tocsr()  # movies x users
    norms = np.sqrt(np.asarray(by_movie.sum(axis=1), dtype=np.float64).ravel())
    inverse = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0).astype(np.float32)
    parts: list[tuple[np.ndarray, ...]] = []
    for start, stop in _blocks(n_movies) if k >= 1 else ():
        sim = (by_movie[start:stop] @ liked).toarray()  # (block x movies) co-like counts, float32
        sim *= inverse[start:stop, None]
        sim *= inverse[None, :]
        rows = np.arange(stop - start)
        sim[rows, rows + start] = 0  # a movie is not its own neighbour
        top = np.argpartition(sim, n_movies - k, axis=1)[:, n_movies - k :]
        top_sim = np.take_along_axis(sim, top, axis=1)
        # deterministic order: similarity descending, then movie index ascending
        order = np.lexsort((top, -top_sim), axis=1)
        top = np.take_along_axis(top, order, axis=1)
        top_sim = np.take_along_axis(top_sim, order, axis=1)
        keep = top_sim > 0
        movie = np.repeat(np.arange(start, stop), k).reshape(-1, k)
        co_likes = np.rint(top_sim * norms[movie] * norms[top]).astype(np.int32)
        rank = np.cumsum(keep, axis=1)
        parts.append((movie[keep], rank[keep], top[keep], top_sim[keep], co_likes[keep]))
    if not parts:
        empty = np.empty(0, dtype=np.int64)
        return ItemNeighbours(empty, empty, empty, np.empty(0, np.float32), np.empty(0, np.int32))
    movie, rank, neighbour, similarity, co_likes = (np.concatenate(p) for p in zip(*parts, strict=True))
    return ItemNeighbours(movie, rank, neighbour, similarity, co_likes)


def write_item_neighbours(conn: Connection, version: int, ids: np.ndarray, table: ItemNeighbours) -> int:
    """COPY the table for `version` (ids[i] = movie id of index i) inside the caller's transaction."""
    copy_partition(
        conn,
        "item_neighbours",
        version,
        ["version", "movie_id", "rank", "neighbour_id", "similarity", "co_likes"],
        [
            ("int4", np.full(len(table.movie), version)),
            ("int4", ids[table.movie]),
            ("int2", table.rank),
            ("int4", ids[table.neighbour]),
            ("float4", table.similarity),
            ("int4", table.co_likes),
        ],
    )
    return len(table.movie)


def rank_for_profiles(
    profiles: list[np.ndarray],
    seen: list[np.ndarray],
    similar: sp.csr_matrix,
    labels: np.ndarray,
    rating_counts: np.ndarray,
    k: int,
) -> list[np.ndarray]:
    """The API's liked_neighbours ranking in numpy (movie indices), for the recluster holdout.

    profiles[i]: user i's liked movie indices in time order (the latest PROFILE_CAP are used);
    seen[i]: every movie index user i rated (excluded). Mirrors the SQL in
    service/recommenders/liked_neighbours.py, including the popularity fallback.
    """
    n_movies = similar.shape[0]
    n_clusters = int(labels.max()) + 1 if len(labels) else 1
    log_pop = np.log1p(rating_counts)
    lists: list[np.ndarray] = []
    for liked, rated in zip(profiles, seen, strict=True):
        recent = liked[-PROFILE_CAP:]
        profile = np.zeros(n_movies)
        profile[recent] = 1.0
        sim = similar.T @ profile
        candidate = sim > 0
        candidate[rated] = False
        share = np.bincount(labels[recent], minlength=n_clusters) / max(len(recent), 1)
        score = np.full(n_movies, -np.inf)
        if candidate.any():
            pop_max = log_pop[candidate].max() or 1.0
            score[candidate] = (
                sim[candidate] / sim[candidate].max()
                + W_AFFINITY * share[labels[candidate]]
                + W_POPULARITY * log_pop[candidate] / pop_max
            )
        order = np.lexsort((np.arange(n_movies), -score))
        top = order[:k][np.isfinite(score[order[:k]])]
        if len(top) < k:  # fallback: most rated, unseen, not a candidate
            rest = ~candidate
            rest[rated] = False
            by_pop = np.lexsort((np.arange(n_movies), -rating_counts))
            top = np.r_[top, by_pop[rest[by_pop]][: k - len(top)]]
        lists.append(top)
    return lists
