"""The co-likes table (item_neighbours): each movie's top co-rating neighbours ("people who
liked X also liked Y"), computed sparsely.

For the default user ranking and /recommend/movie. A movie's vector is the set of users who
*liked* it (rating >= 4 or >= the user's own mean, the same definition the API uses for a
profile); similarity is the cosine of two such vectors, i.e. co_likes / sqrt(likes_a * likes_b).
The offline evaluation chose this over all-rated or rating-valued vectors (docs/evaluation.md).

Only each user's latest TABLE_CAP liked movies feed the table (heavy users cost the square of
their count and add little). Cost: the liked pairs (at 25M ratings ~15M) as a CSR matrix
and its transpose, built from the run's one read of the ratings (scheduler/ratings.py). The
co-occurrence product is computed one block of movies at a time (a sparse block of at most
~BLOCK_PRODUCTS nonzeros, ~300 MB) and only the top TOP_N per movie is kept, so memory is
bounded by the pairs, never movies x movies (~15 GB dense at 62k movies). CPU grows with the
sum over users of (liked movies)^2.

`co_likes_step` is the recluster run's write step for the table: item_neighbours of the
version, from the run's ratings minus the holdout sample's hidden likes
(scheduler/holdout_sample.py).
"""

import time
from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp
from sqlalchemy import Connection

from ranking import TOP_N
from ranking.liked import latest, liked_mask
from ranking.sparse import product
from ranking.threads import map_in_threads
from ranking.users import Ratings
from scheduler.holdout_sample import hidden_pairs, sample_ratings, sample_users
from scheduler.item_tables import ItemTable, run_log_popularity, write_item_table
from scheduler.ratings import RunRatings, run_ratings
from scheduler.versions import WriteContext

TABLE_CAP = 200  # latest liked movies per user that feed the table (see latest_by_seconds)
BLOCK_PRODUCTS = 20_000_000  # multiply-adds per block: bounds a block's nonzeros (~16 bytes each)


def liked_matrix(user_idx: np.ndarray, movie_idx: np.ndarray, n_movies: int) -> sp.csr_matrix:
    """users x movies 0/1 matrix (float32) of liked pairs; users renumbered densely."""
    _, users = np.unique(user_idx, return_inverse=True)
    ones = np.ones(len(users), dtype=np.float32)
    n_users = int(users.max()) + 1 if len(users) else 0
    return sp.csr_matrix((ones, (users, movie_idx)), shape=(n_users, n_movies))


def liked_rows(ratings: Ratings, mask: np.ndarray, n_movies: int) -> sp.csr_matrix:
    """liked_matrix of the ratings where `mask` is set, built row by row from the ratings'
    grouping (no COO sort of millions of pairs): one row per user position, empty rows for
    users without any; columns sorted, so products visit the pairs in liked_matrix's order."""
    counts = np.add.reduceat(mask, ratings.starts[:-1], dtype=np.int64) if len(mask) else np.zeros(0, int)
    indptr = np.r_[0, np.cumsum(counts)]
    movies = ratings.movie[mask]
    matrix = sp.csr_matrix(
        (np.ones(len(movies), dtype=np.float32), movies, indptr), shape=(len(counts), n_movies)
    )
    matrix.sort_indices()
    return matrix


def _blocks(by_movie: sp.csr_matrix, liked: sp.csr_matrix, products: int) -> Iterator[tuple[int, int]]:
    """Row ranges whose co-like product has at most ~`products` multiply-adds (a bound on the
    block's nonzeros, hence its memory); a single heavier movie is a block of its own."""
    per_user = np.diff(liked.indptr).astype(np.float64)
    work = np.cumsum(by_movie @ per_user)  # per movie: sum of its fans' liked counts
    start = 0
    n_movies = by_movie.shape[0]
    while start < n_movies:
        base = work[start - 1] if start else 0.0
        stop = int(np.searchsorted(work, base + products, side="right"))
        stop = min(max(stop, start + 1), n_movies)
        yield start, stop
        start = stop


def top_neighbours(liked: sp.csr_matrix, top_n: int = TOP_N, threads: int = 1) -> ItemTable:
    """Top-n cosine neighbours of every movie from a users x movies 0/1 matrix, block by block.

    Only the nonzero co-likes are touched (a dense movies x movies block would be mostly zeros:
    ~7% are nonzero at 5M ratings): cosines on the product's data, a partial sort per movie.
    `threads` blocks at once (scipy's product and numpy's sorts release the GIL), each block
    that many times smaller: the same memory as one thread.
    """
    n_movies = liked.shape[1]
    k = min(top_n, n_movies - 1)
    by_movie = liked.T.tocsr()  # movies x users
    norms = np.sqrt(np.diff(by_movie.indptr).astype(np.float64))
    inverse = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)

    def block(span: tuple[int, int]) -> tuple[np.ndarray, ...]:
        start, stop = span
        co = product(by_movie[start:stop], liked)  # co-like counts of the block's movies
        return top_of_block(co, np.arange(start, stop), inverse, k)

    spans = list(_blocks(by_movie, liked, BLOCK_PRODUCTS // max(threads, 1))) if k >= 1 else []
    return _joined(map_in_threads(block, spans, threads, "co-likes"))


def top_of_block(co: sp.csr_matrix, rows: np.ndarray, inverse: np.ndarray, k: int) -> tuple[np.ndarray, ...]:
    """Each row's top-k cosines from co-like counts (row i is movie rows[i]; inverse = 1/sqrt(likes)):
    (movie, rank, neighbour, similarity float32, co_likes int32). Also the Spark engine's."""
    counts = np.diff(co.indptr)
    movie = np.repeat(rows, counts)
    sim = co.data * inverse[movie] * inverse[co.indices]
    sim[co.indices == movie] = 0.0  # a movie is not its own neighbour
    picked: list[np.ndarray] = []
    for row in np.flatnonzero(counts > k):  # partial sort only where there is a choice
        first, last = co.indptr[row], co.indptr[row + 1]
        picked.append(first + np.argpartition(sim[first:last], last - first - k)[last - first - k :])
    small = np.repeat(counts <= k, counts)
    take = np.concatenate([np.flatnonzero(small), *picked]) if picked else np.flatnonzero(small)
    take = take[sim[take] > 0]
    # deterministic order: movie, then similarity descending, then neighbour index ascending
    take = take[np.lexsort((co.indices[take], -sim[take], movie[take]))]
    movies, neighbours = movie[take], co.indices[take]
    starts = np.flatnonzero(np.r_[True, movies[1:] != movies[:-1]]) if len(take) else take
    rank = np.arange(len(take)) - np.repeat(starts, np.diff(np.r_[starts, len(take)])) + 1
    return movies, rank, neighbours, sim[take].astype(np.float32), co.data[take].astype(np.int32)


def _joined(parts: list[tuple[np.ndarray, ...]]) -> ItemTable:
    if not parts:
        empty = np.empty(0, dtype=np.int64)
        return ItemTable(empty, empty, empty, np.empty(0, np.float32), np.empty(0, np.int32))
    movie, rank, neighbour, similarity, co_likes = (np.concatenate(p) for p in zip(*parts, strict=True))
    return ItemTable(movie, rank, neighbour, similarity, co_likes)


def co_likes_step(conn: Connection, context: WriteContext) -> None:
    """Write item_neighbours for the version; store metrics['item_neighbours'], and leave the
    training liked matrix and the holdout sample in the context for the item model and
    holdout_step.

    The liked pairs come from the run's ratings (read once, scheduler/ratings.py) through
    ranking/liked.py, the same rule as the API's SQL (liked_sql), not from a second read."""
    start = time.perf_counter()
    ids = context.features.movie_ids
    run = run_ratings(conn, context)
    ratings = run.ratings
    liked = liked_mask(ratings.half_stars, ratings.starts)
    users = ratings.users[np.logical_or.reduceat(liked, ratings.starts[:-1])] if len(liked) else liked
    if run.known is not None:  # a movie added since the features: not in this version's tables
        liked &= run.known
    sample = sample_ratings(conn, sample_users(users), ids)
    trained = ~hidden_pairs(ratings, sample)
    if run.known is not None:
        trained &= run.known
    context.trained = trained  # the next-movie counts train on the same ratings (sequence.py)
    train = liked & trained
    del liked
    context.liked = liked_rows(ratings, train, len(ids))
    context.holdout_sample = sample
    capped = latest_by_seconds(run, train)
    del train
    table = top_neighbours(liked_rows(ratings, capped, len(ids)), threads=context.threads)
    log_pop = run_log_popularity(conn, context)
    rows = write_item_table(conn, context.version, ids, table, context.fit.labels, log_pop)
    context.item_similarity = table.as_matrix(len(ids))
    context.metrics["item_neighbours"] = {
        "rows": rows,
        "liked_pairs": int(capped.sum()),
        "seconds": round(time.perf_counter() - start, 2),
    }


def latest_by_seconds(run: RunRatings, mask: np.ndarray, cap: int = TABLE_CAP) -> np.ndarray:
    """`mask` cut to each user's `cap` latest entries by whole seconds, then movie id (descending).

    Heavy users dominate the co-like work (it grows with liked movies squared) while adding
    little: at 200, ~80% of the pairs and ~30% of the work remain, and NDCG is unchanged.
    """
    if run.by_seconds is None:
        return latest(mask, run.ratings.starts, cap)
    capped = np.empty_like(mask)
    capped[run.by_seconds] = latest(mask[run.by_seconds], run.ratings.starts, cap)
    return capped
