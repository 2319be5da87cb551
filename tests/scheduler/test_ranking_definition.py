"""The ranking's definition (ranking/): the liked rule's numpy and SQL forms agree for every
rating, and the numpy ranker's edges (seen movies, the popular fill) behave as the API's."""

import numpy as np
from sqlalchemy import Engine, text

from ranking.liked import latest, liked_mask, liked_sql
from ranking.users import Ranker, ratings_from, top_with_popular
from scheduler.item_knn import liked_matrix, top_neighbours


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
