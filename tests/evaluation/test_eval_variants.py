"""`cinecluster evaluate --variants`: the rows and their weights (the end-to-end check that the
default row scores as the API's default is in test_eval_cli.py)."""

import pytest

from evaluation.variants import DEFAULT, VARIANTS, decay_weights, recency_weights
from ranking import RECENCY, RECENCY_QUANTUM, SEQUENCE_DECAY, SEQUENCE_RECENT, W_SEQUENCE
from ranking.users import FLAT, Blend


def test_the_default_half_life_and_decay_are_the_rankings_tables() -> None:
    assert recency_weights(5.0) == RECENCY
    assert decay_weights(0.8) == SEQUENCE_DECAY
    assert DEFAULT.blend() == Blend()
    flat = next(v for v in VARIANTS if v.name.startswith("EASE, flat profile"))
    assert flat.blend().recency == FLAT.recency is None


@pytest.mark.parametrize("half_life", [2.5, 5.0, 10.0])
def test_recency_weights_follow_the_formula_to_the_floor(half_life: float) -> None:
    weights = recency_weights(half_life)
    for r, weight in enumerate(weights):
        assert weight % RECENCY_QUANTUM == 0
        assert abs(weight - (0.4 + 0.6 * 0.5 ** (r / half_life))) <= RECENCY_QUANTUM / 2
    # the Ranker repeats the last entry: past the end the formula is within half a quantum of it
    assert 0.6 * 0.5 ** (len(weights) / half_life) < RECENCY_QUANTUM / 2
    assert list(weights) == sorted(weights, reverse=True)


def test_decay_weights() -> None:
    weights = decay_weights(0.7)
    assert len(weights) == SEQUENCE_RECENT and weights[0] == 1.0
    assert all(abs(w - 0.7**r) <= RECENCY_QUANTUM / 2 for r, w in enumerate(weights))


def test_each_sweep_changes_one_thing_around_the_default() -> None:
    names = [v.name for v in VARIANTS]
    assert len(set(names)) == len(names)
    parts = [v for v in VARIANTS if v.group == "parts"]
    assert [v.params() for v in parts] == [
        {"model": "ease", "half_life": None, "next_movie": False},
        {"model": "ease", "half_life": 5.0, "next_movie": False},
        {"model": "dlae", "dropout": 0.2, "half_life": 5.0, "next_movie": False},
        {
            "model": "dlae",
            "dropout": 0.2,
            "half_life": 5.0,
            "next_movie": True,
            "decay": 0.8,
            "w_sequence": W_SEQUENCE,
        },
    ]
    assert [v.is_default for v in parts] == [False, False, False, True]
    default = DEFAULT.params()
    for group in {v.group for v in VARIANTS} - {"parts"}:
        rows = [v for v in VARIANTS if v.group == group]
        assert sum(v.is_default for v in rows) == 1, group
        assert all(v.name.endswith(" *") == v.is_default for v in rows), group
        changed = {key for v in rows for key, value in v.params().items() if default[key] != value}
        assert len(changed) == 1, (group, changed)
