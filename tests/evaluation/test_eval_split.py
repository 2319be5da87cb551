"""The temporal holdout: sizes, ordering, tie-breaking, and no leak from the future."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ranking.split import held_out_count, temporal_split


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
