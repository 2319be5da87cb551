"""The co-rating neighbour table: cosine on liked-by vectors, top-n, deterministic ranks."""

import math

import numpy as np
import pytest

from ranking.users import ratings_from
from scheduler.co_likes import latest_by_seconds, liked_matrix, top_neighbours
from scheduler.ratings import RunRatings


def _table(pairs: list[tuple[int, int]], n_movies: int, top_n: int = 50):  # type: ignore[no-untyped-def]
    users, movies = (np.array(column) for column in zip(*pairs, strict=True))
    return top_neighbours(liked_matrix(users, movies, n_movies), top_n)


def test_cosine_of_liked_by_vectors() -> None:
    # movie 0 liked by users 1,2,3; movie 1 by 1,2; movie 2 by 3; movie 3 by nobody
    table = _table([(1, 0), (2, 0), (3, 0), (1, 1), (2, 1), (3, 2)], n_movies=4)
    got = {
        (int(m), int(n)): (float(s), int(c))
        for m, n, s, c in zip(table.movie, table.neighbour, table.similarity, table.co_likes, strict=True)
    }
    assert got[(0, 1)][0] == pytest.approx(2 / math.sqrt(3 * 2), rel=1e-6)
    assert got[(0, 1)][1] == 2
    assert got[(0, 2)][0] == pytest.approx(1 / math.sqrt(3), rel=1e-6)
    assert (1, 2) not in got and (3, 0) not in got  # no co-likes, no row
    assert all(m != n for m, n in got)  # never its own neighbour


def test_ranks_follow_similarity_then_movie_id_and_stop_at_top_n() -> None:
    pairs = [(u, 0) for u in range(6)] + [(0, 1), (1, 1), (2, 2), (3, 2), (4, 3)]
    table = _table(pairs, n_movies=4, top_n=2)
    row = table.movie == 0
    assert table.neighbour[row].tolist() == [1, 2]  # 1 and 2 tie; the lower index ranks first
    assert table.rank[row].tolist() == [1, 2]


def test_blocks_give_the_same_table_as_one_pass(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    pairs = {
        (int(u), int(m)) for u, m in zip(rng.integers(0, 40, 600), rng.integers(0, 30, 600), strict=True)
    }
    whole = _table(sorted(pairs), n_movies=30, top_n=5)
    monkeypatch.setattr("scheduler.co_likes.BLOCK_PRODUCTS", 500)  # a few movies per block
    blocked = _table(sorted(pairs), n_movies=30, top_n=5)
    assert np.array_equal(whole.neighbour, blocked.neighbour)
    assert np.array_equal(whole.similarity, blocked.similarity)


def _kept(run: RunRatings, ids: np.ndarray, cap: int) -> list[tuple[int, int]]:
    """(user, movie id) of the liked ratings latest_by_seconds keeps (every rating liked)."""
    kept = latest_by_seconds(run, np.ones(len(run.ratings.user), dtype=bool), cap)
    return sorted(zip(run.ratings.user[kept].tolist(), ids[run.ratings.movie[kept]].tolist(), strict=True))


def test_only_each_users_latest_liked_movies_feed_the_table() -> None:
    ids = np.array([10, 11, 12, 13])
    columns = {
        "user": np.array([1, 1, 1, 2, 1]),
        "movie": np.array([10, 11, 12, 10, 13]),
        "half_stars": np.full(5, 10),
        "micros": np.array([5, 9, 7, 1, 9]) * 1_000_000,
    }
    # whole seconds: the ratings' own order is the table's (by_seconds None)
    run = RunRatings(ratings_from(columns, ids, ""), known=None, by_seconds=None)
    # user 1, latest first: (9, 13), (9, 11), (7, 12), (5, 10) -> keep 13 and 11; user 2 keeps 10
    assert _kept(run, ids, cap=2) == [(1, 11), (1, 13), (2, 10)]


def test_the_cap_counts_whole_seconds_then_the_higher_movie_id() -> None:
    ids = np.array([10, 11, 12, 13])
    columns = {
        "user": np.array([1, 1, 1, 1]),
        "movie": np.array([10, 11, 12, 13]),
        "half_stars": np.full(4, 10),
        "micros": np.array([5_000_000, 9_500_000, 7_000_000, 9_200_000]),
    }
    ratings = ratings_from(columns, ids, "")  # newest first: 11 (9.5 s), 13 (9.2 s), 12, 10
    assert ids[ratings.movie].tolist() == [11, 13, 12, 10]
    # by whole seconds 11 and 13 tie at 9 s: the higher id, 13, is the latest (the permutation
    # scheduler/ratings.py gives such a run: tests/scheduler/test_run_ratings.py)
    run = RunRatings(ratings, known=None, by_seconds=np.array([1, 0, 2, 3]))
    assert _kept(run, ids, cap=1) == [(1, 13)]
