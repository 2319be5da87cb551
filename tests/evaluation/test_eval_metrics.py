"""Ranking metrics on small cases computed by hand."""

import math

import pytest

from ranking.metrics import (
    coverage,
    hit_rate_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    score_lists,
)


def test_ndcg_hits_at_ranks_one_and_three() -> None:
    # DCG = 1/log2(2) + 1/log2(4) = 1.5; two relevant -> IDCG = 1 + 1/log2(3)
    expected = 1.5 / (1 + 1 / math.log2(3))
    assert ndcg_at_k([10, 20, 30, 40], {10, 30}, k=10) == pytest.approx(expected)


def test_ndcg_ideal_is_capped_at_k() -> None:
    # 3 relevant but k = 2: a perfect top-2 list scores 1, not 2/3 of the ideal
    assert ndcg_at_k([1, 2, 9], {1, 2, 3}, k=2) == pytest.approx(1.0)
    # single hit at rank 2 of 2: (1/log2 3) / (1 + 1/log2 3)
    assert ndcg_at_k([9, 1], {1, 2, 3}, k=2) == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))


def test_ndcg_ignores_items_past_k_and_misses() -> None:
    assert ndcg_at_k([5, 6, 7], {7}, k=2) == 0.0
    assert ndcg_at_k([5, 6, 7], set(), k=10) == 0.0


def test_short_list_precision_counts_empty_slots_as_misses() -> None:
    ranked = [1, 2, 3]
    relevant = {1, 3, 8, 9}
    assert precision_at_k(ranked, relevant, k=10) == pytest.approx(2 / 10)
    assert recall_at_k(ranked, relevant, k=10) == pytest.approx(2 / 4)
    assert hit_rate_at_k(ranked, relevant, k=10) == 1.0
    assert hit_rate_at_k([4, 5], relevant, k=10) == 0.0


def test_recall_counts_only_the_first_k() -> None:
    assert recall_at_k([7, 1, 2], {1, 2}, k=2) == pytest.approx(0.5)


def test_coverage_counts_distinct_movies_in_top_k() -> None:
    lists = [[1, 2, 3], [2, 3, 4], [5]]
    assert coverage(lists, catalogue_size=10, k=2) == pytest.approx(4 / 10)  # {1, 2, 3, 5}


def test_score_lists_averages_over_users_with_relevant_movies() -> None:
    lists = {1: [10, 11], 2: [20], 3: [30]}
    relevant = {1: {10}, 2: {99}, 3: set()}  # user 3 has nothing relevant: not scored
    scores = score_lists(lists, relevant, catalogue_size=8, k=2)
    assert scores.users == 2
    assert scores.ndcg == pytest.approx(0.5)
    assert scores.precision == pytest.approx((1 / 2 + 0) / 2)
    assert scores.hit_rate == pytest.approx(0.5)
    assert scores.coverage == pytest.approx(4 / 8)


def test_user_without_a_list_counts_as_all_misses() -> None:
    scores = score_lists({}, {1: {5}}, catalogue_size=3, k=10)
    assert (scores.ndcg, scores.recall, scores.users) == (0.0, 0.0, 1)
