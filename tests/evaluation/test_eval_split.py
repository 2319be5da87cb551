"""The holdout splits: sizes, ordering, tie-breaking, no leak from the future (temporal, last5),
determinism and share (random), at least one training rating per user."""

import random

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ranking.split import held_out_count, last_n_split, random_split, split, temporal_split


def test_last_fifth_by_time_is_held_out() -> None:
    users = [1] * 10
    movies = list(range(100, 110))
    stamps = [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]  # movie 100 is the latest
    mask = temporal_split(users, movies, stamps, holdout=0.2)
    assert sorted(np.asarray(movies)[mask]) == [100, 101]


def test_ties_in_time_are_broken_by_movie_id() -> None:
    mask = temporal_split([7, 7, 7], [30, 10, 20], [5, 5, 5], holdout=0.2)
    # ordered (5,10), (5,20), (5,30): the last one, movie 30, is held out
    assert mask.tolist() == [True, False, False]


def test_at_least_one_held_out_and_never_all() -> None:
    assert held_out_count(np.array([1, 2, 4, 5, 10, 11]), 0.2).tolist() == [0, 1, 1, 1, 2, 2]


def test_rejects_bad_holdout() -> None:
    with pytest.raises(ValueError, match="holdout"):
        temporal_split([1], [1], [1], holdout=1.0)


rows = st.lists(
    st.tuples(st.integers(1, 5), st.integers(1, 40), st.integers(0, 20)),
    min_size=1,
    max_size=120,
    unique_by=lambda row: (row[0], row[1]),
)


@given(rows, st.sampled_from([0.1, 0.2, 0.5]))
def test_split_is_leak_free(data: list[tuple[int, int, int]], holdout: float) -> None:
    users, movies, stamps = (np.array(column) for column in zip(*data, strict=True))
    mask = temporal_split(users, movies, stamps, holdout=holdout)
    for user in np.unique(users):
        mine = users == user
        train, test = mine & ~mask, mine & mask
        assert test.sum() == held_out_count(np.array([mine.sum()]), holdout)[0]
        if train.any() and test.any():
            # no training rating is later than a held-out one (ties broken by movie id)
            latest_train = max(zip(stamps[train], movies[train], strict=True))
            earliest_test = min(zip(stamps[test], movies[test], strict=True))
            assert latest_train < earliest_test


@given(rows)
def test_last5_holds_out_each_users_latest_five_and_is_leak_free(data: list[tuple[int, int, int]]) -> None:
    users, movies, stamps = (np.array(column) for column in zip(*data, strict=True))
    mask = last_n_split(users, movies, stamps)
    for user in np.unique(users):
        mine = users == user
        train, test = mine & ~mask, mine & mask
        assert test.sum() == (5 if mine.sum() > 5 else 0)
        assert train.any()  # everyone keeps a training rating
        if test.any():
            latest_train = max(zip(stamps[train], movies[train], strict=True))
            earliest_test = min(zip(stamps[test], movies[test], strict=True))
            assert latest_train < earliest_test


def test_last5_orders_ties_by_movie_id() -> None:
    users = [3] * 7 + [4] * 5  # user 4 has exactly five ratings: nothing held out
    movies = [70, 10, 20, 30, 40, 50, 60, 1, 2, 3, 4, 5]
    stamps = [0, 1, 1, 1, 1, 1, 1, 9, 9, 9, 9, 9]
    mask = last_n_split(users, movies, stamps)
    assert sorted(np.asarray(movies)[mask]) == [20, 30, 40, 50, 60]


@given(rows, st.sampled_from([0.1, 0.2, 0.5]), st.integers(0, 2**32), st.randoms(use_true_random=False))
def test_random_split_sizes_and_a_training_rating_per_user(
    data: list[tuple[int, int, int]], holdout: float, seed: int, shuffle: random.Random
) -> None:
    users, movies, _ = (np.array(column) for column in zip(*data, strict=True))
    mask = random_split(users, movies, holdout, seed)
    distinct = len(np.unique(users))
    # floor(holdout x ratings), unless that would take some user's last training rating
    assert mask.sum() == min(int(np.floor(len(users) * holdout + 1e-9)), len(users) - distinct)
    for user in np.unique(users):
        assert (~mask[users == user]).any()
    # deterministic for a seed, and the same whatever the rows' order
    assert np.array_equal(random_split(users, movies, holdout, seed), mask)
    order = list(range(len(users)))
    shuffle.shuffle(order)
    assert np.array_equal(random_split(users[order], movies[order], holdout, seed), mask[order])


def test_random_split_share_and_seeds() -> None:
    rng = np.random.default_rng(1)
    sizes = rng.integers(1, 60, size=200)  # some single-rating users, who keep theirs
    users = np.repeat(np.arange(200), sizes)
    movies = np.concatenate([rng.permutation(1000)[:size] for size in sizes])
    masks = np.array([random_split(users, movies, 0.2, seed) for seed in range(200)])
    assert abs(masks[0].mean() - 0.2) <= 1 / len(users)
    assert not np.array_equal(masks[0], masks[1])  # another seed, another split
    # every rating is equally likely to be held out, given its user's one kept rating:
    # P = (1 - 1/size) x draws / (ratings - users)
    share = masks.mean(axis=0)
    expected = (1 - 1 / sizes[users]) * masks[0].sum() / (len(users) - 200)
    assert np.abs(share - expected).max() < 0.12
    assert abs(share.mean() - 0.2) < 0.005
    assert not masks[:, sizes[users] == 1].any()


def test_protocols_by_name() -> None:
    users, movies, stamps = [1] * 10, list(range(10)), list(range(10))
    assert split("temporal", users, movies, stamps, 0.2).sum() == 2
    assert split("last5", users, movies, stamps, 0.2).tolist() == [False] * 5 + [True] * 5
    assert split("random", users, movies, stamps, 0.2, seed=3).sum() == 2
    with pytest.raises(ValueError, match="unknown protocol 'nope'"):
        split("nope", users, movies, stamps)
    with pytest.raises(ValueError, match="holdout"):
        random_split(users, movies, holdout=1.5)
