"""The next-movie counts (scheduler/sequence.py) against a plain loop over each user's ratings in
time order, and the stored table's shape."""

import numpy as np
import pytest

from ranking.users import ratings_from
from scheduler import sequence
from scheduler.sequence import KEEP, STEP_WEIGHTS, WINDOW, successor_counts, successor_weights


def _brute_force(users, movies, micros, covered, train):  # type: ignore[no-untyped-def]
    position = {m: i for i, m in enumerate(covered)}
    counts = np.zeros((len(covered), len(covered)))
    for u in np.unique(users):
        mine = np.flatnonzero(users == u)
        order = mine[np.lexsort((movies[mine], micros[mine]))]  # time, then movie id, ascending
        for i, earlier in enumerate(order):
            for step in range(1, WINDOW + 1):
                if i + step >= len(order):
                    break
                later = order[i + step]
                a, b = movies[earlier], movies[later]
                if a in position and b in position and train[earlier] and train[later]:
                    counts[position[a], position[b]] += STEP_WEIGHTS[step - 1]
    return counts


# one chunk; chunks smaller than the window; parts in threads (split inside users' windows)
@pytest.mark.parametrize(("chunk", "threads"), [(1 << 19, 1), (7, 1), (1 << 19, 3), (7, 4)])
def test_counts_equal_a_loop_over_each_users_ratings_in_time_order(
    chunk: int, threads: int, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(sequence, "CHUNK", chunk)
    rng = np.random.default_rng(3)
    n_movies = 40
    ids = np.arange(1, n_movies + 1) * 10
    users, movies, micros = [], [], []
    for user in range(30):
        rated = rng.choice(n_movies, size=int(rng.integers(1, 35)), replace=False)
        users += [user] * len(rated)
        movies += ids[rated].tolist()
        micros += rng.integers(0, 5, len(rated)).tolist()  # many ties in time
    users, movies, micros = np.array(users), np.array(movies), np.array(micros)
    train = rng.random(len(users)) > 0.1
    covered = np.sort(rng.choice(n_movies, size=25, replace=False))
    columns = {"user": users, "movie": movies, "half_stars": np.full(len(users), 8), "micros": micros}
    # Ratings reorder the rows (newest first); carry `train` along by the same order
    order = np.lexsort((-movies, -micros, users))
    ratings = ratings_from(columns, ids, "")
    mine = successor_counts(ratings, covered, n_movies, train[order], threads)
    expected = _brute_force(users, np.searchsorted(ids, movies), micros, covered.tolist(), train)
    np.testing.assert_array_equal(mine, expected)
    assert mine.sum() > 0 and len(np.unique(mine)) > 5  # the comparison says something


def test_the_table_keeps_each_movies_largest_weights_scaled_to_one() -> None:
    rng = np.random.default_rng(4)
    counts = rng.integers(0, 5, (80, 80)).astype(float)
    np.fill_diagonal(counts, 0)
    table = successor_weights(counts)
    weights = counts / np.sqrt(counts.sum(axis=1))[:, None]
    assert np.bincount(table.movie).max() <= KEEP
    assert table.similarity.max() == 1.0 and (table.similarity > 0).all()
    for movie in (0, 41):
        kept = table.neighbour[table.movie == movie]
        assert weights[movie, kept].min() >= np.sort(weights[movie])[-KEEP]
