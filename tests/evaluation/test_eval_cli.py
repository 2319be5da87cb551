"""`cinecluster evaluate` end to end on a tiny planted dataset, through the CLI entry point."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest


def _planted(directory: Path, seed: int = 7) -> Path:
    """Four taste groups of users, each liking its own block of 20 movies.

    Two blocks share a genre, so genre clusters cannot tell them apart but co-ratings can;
    the held-out (latest) ratings come from the user's own block.
    """
    rng = np.random.default_rng(seed)
    with (directory / "movies.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["movieId", "title", "genres"])
        for movie in range(1, 81):
            genre = "Comedy|Romance" if movie <= 40 else "Horror|Thriller"
            writer.writerow([movie, f"Movie {movie} (2000)", genre])
    with (directory / "ratings.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["userId", "movieId", "rating", "timestamp"])
        for user in range(1, 81):
            block = np.arange(1, 21) + 20 * (user % 4)
            stamp = 1_000_000_000 + user * 10_000
            for offset, movie in enumerate(rng.choice(block, size=12, replace=False)):
                writer.writerow([user, movie, float(rng.choice([4.0, 4.5, 5.0])), stamp + offset])
    return directory


@pytest.mark.slow
def test_evaluate_ranks_the_planted_signal_above_random(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = _planted(tmp_path)
    result = run_cli("evaluate", "--data", str(data), "--k", "5", "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    by_name = {row["name"].split(" (")[0]: row for row in report["strategies"]}
    default = by_name[f"api: {report['default_strategy']}"]["rating>=4"]["ndcg"]
    random = by_name["api: random"]["rating>=4"]["ndcg"]
    assert by_name["api: random"]["seeds"] == 5
    assert default["mean"] > random["mean"] + 0.2
    assert report["users"] == 80 and report["k"] == 5


@pytest.mark.slow
def test_evaluate_prints_both_tables_and_is_reproducible(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = _planted(tmp_path)
    first = run_cli("evaluate", "--data", str(data), "--k", "5")
    second = run_cli("evaluate", "--data", str(data), "--k", "5")
    assert first.exit_code == 0, first.stderr
    assert "user lists; relevant = held-out rating >= 4" in first.stdout
    assert "user lists; relevant = held-out rating (any)" in first.stdout
    assert "similar movies of the user's latest liked movie" in first.stdout

    def metrics(out: str) -> list[str]:  # every line of the tables, minus the timing column
        return [line.rsplit("│", 2)[0] for line in out.splitlines() if line.startswith("│")]

    assert metrics(first.stdout) == metrics(second.stdout)


def test_bad_holdout_is_a_one_line_error(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("evaluate", "--data", str(_planted(tmp_path)), "--holdout", "1.5")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: --holdout must be between 0 and 1 (exclusive), got 1.5"
    ]


def test_missing_data_is_a_one_line_error(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("evaluate", "--data", str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr.startswith("error: no ratings.csv in")
