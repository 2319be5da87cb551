"""The ranking's definition (ranking/): the liked rule's numpy and SQL forms agree for every
rating, and the numpy ranker's edges (seen movies, the popular fill) behave as the API's."""

import numpy as np
import pytest
from sqlalchemy import Engine, text

from ranking.liked import latest, liked_mask, liked_sql
from ranking.users import Ranker, ratings_from, top_with_popular
from scheduler import co_likes
from scheduler.co_likes import liked_matrix, top_neighbours


def test_the_liked_rule_is_the_same_in_numpy_and_in_postgresql(engine: Engine) -> None:
    rng = np.random.default_rng(7)
    users = np.repeat(np.arange(200), rng.integers(1, 30, 200))
    half_stars = rng.integers(1, 11, len(users))  # 0.5 .. 5.0
    starts = np.r_[np.flatnonzero(np.r_[True, users[1:] != users[:-1]]), len(users)]
    mine = liked_mask(half_stars, starts)
    values = ", ".join(f"({u}, {i}, {h / 2})" for i, (u, h) in enumerate(zip(users, half_stars, strict=True)))
    with engine.connect() as conn:
        theirs = conn.execute(
            text(
                f"""
                WITH r(user_id, i, rating) AS (VALUES {values}),
                     m AS (SELECT user_id, avg(rating::numeric) AS mean FROM r GROUP BY user_id)
                SELECT {liked_sql("r.rating::numeric", "m.mean")} FROM r JOIN m USING (user_id) ORDER BY i
                """
            )
        ).scalars()
        assert mine.tolist() == list(theirs)
    assert 0 < mine.sum() < len(mine)  # both kinds occur: the comparison says something


def test_latest_keeps_each_users_first_entries() -> None:
    mask = np.array([True, False, True, True, True, True, False])
    starts = np.array([0, 4, 7])
    assert latest(mask, starts, 2).tolist() == [True, False, True, False, True, True, False]


def test_ranking_excludes_seen_and_falls_back_to_popularity() -> None:
    table = top_neighbours(liked_matrix(np.array([1, 1, 2, 2]), np.array([0, 1, 0, 2]), 5), 50)
    ids = np.arange(10, 15)
    labels = np.array([0, 0, 1, 1, 1])
    counts = np.array([2.0, 1.0, 1.0, 0.0, 9.0])
    # one user: liked movie 0 (5 stars), rated movie 1 (1 star, below their mean)
    columns = {
        "user": np.array([7, 7]),
        "movie": ids[[0, 1]],
        "half_stars": np.array([10, 2]),
        "micros": np.array([2, 1]),
    }
    ratings = ratings_from(columns, ids, "")
    ranker = Ranker(table.as_matrix(5), labels, np.log1p(counts), length=3)
    [ranked] = top_with_popular(ranker.rank(ratings)[0], ratings, counts, 3)
    # neighbour 2 first (1 is seen), then the most rated unseen movies: 4, then 3
    assert ranked.tolist() == [2, 4, 3]


def test_threads_change_neither_the_rankings_nor_the_co_likes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The recluster ranks blocks of users and computes blocks of co-likes in threads
    (CINECLUSTER_RECLUSTER_THREADS): the same lists, scores, sources and neighbours as one."""
    rng = np.random.default_rng(11)
    n_users, n_movies = 700, 60
    per_user = rng.integers(3, 40, n_users)
    user = np.repeat(np.arange(n_users), per_user)
    movie = np.concatenate([rng.choice(n_movies, k, replace=False) for k in per_user])
    ids = np.arange(100, 100 + n_movies)
    columns = {
        "user": user,
        "movie": ids[movie],
        "half_stars": rng.integers(1, 11, len(user)),
        "micros": rng.integers(0, 10**9, len(user)),
    }
    ratings = ratings_from(columns, ids, "")
    liked = liked_mask(ratings.half_stars, ratings.starts)
    matrix = liked_matrix(ratings.user[liked], ratings.movie[liked], n_movies)
    monkeypatch.setattr(co_likes, "BLOCK_PRODUCTS", 3_000)  # many blocks of co-likes at this size
    assert len(list(co_likes._blocks(matrix.T.tocsr(), matrix, 1_000))) > 6
    one, three = top_neighbours(matrix, 10), top_neighbours(matrix, 10, threads=3)
    for field in ("movie", "rank", "neighbour", "similarity", "co_likes"):
        assert np.array_equal(getattr(one, field), getattr(three, field))
    labels = rng.integers(0, 4, n_movies)
    counts = rng.integers(0, 50, n_movies).astype(float)
    ranker = Ranker(one.as_matrix(n_movies), labels, np.log1p(counts), length=10, block_users=16)
    (alone, shares_alone), (threaded, shares_threaded) = ranker.rank(ratings), ranker.rank(ratings, threads=3)
    assert len(threaded.user) > 600  # many blocks, most users listed: the comparison says something
    for field in ("user", "offsets", "movie", "score", "source", "just_rated"):
        assert np.array_equal(getattr(alone, field), getattr(threaded, field))
    assert np.array_equal(shares_alone, shares_threaded)
