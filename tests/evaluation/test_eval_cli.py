"""`cinecluster evaluate` end to end through the CLI entry point: on a tiny planted dataset, and
its protocols on the suite's generated sample (tests/generated_sample.py, never ml-latest-small,
so the figures and the run time are the same on every machine)."""

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from generated_sample import write_sample


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


def test_bad_protocol_is_a_one_line_error_before_any_database(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # a server nobody listens on: the input is checked before a scratch database could exist
    nowhere = {"DATABASE_URL": "postgresql://postgres@127.0.0.1:1/postgres"}
    data = str(_planted(tmp_path))
    for args, message in (
        (["--protocol", "nope"], "error: --protocol must be one of temporal, random, last5, all, got 'nope'"),
        (
            ["--protocol", "all", "--holdout", "1.5"],
            "error: --holdout must be between 0 and 1 (exclusive), got 1.5",
        ),
        (["--protocol", "random", "--seed", "-1"], "error: --seed must be non-negative, got -1"),
    ):
        result = run_cli("evaluate", "--data", data, *args, env=nowhere)
        assert result.exit_code == 2, result.stderr
        assert result.stderr.strip().splitlines() == [message]
        assert result.stdout == ""


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sample(tmp_path_factory.mktemp("generated-sample"))


def _ndcg(report: dict[str, Any], name: str) -> float:
    row = next(row for row in report["strategies"] if row["name"].split(" (")[0] == name)
    return float(row["rating>=4"]["ndcg"]["mean"])


@pytest.mark.slow
def test_evaluate_last5_holds_out_each_users_last_five(run_cli, generated: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("evaluate", "--data", str(generated), "--protocol", "last5", "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    sizes = pd.read_csv(generated / "ratings.csv").groupby("userId").size()
    assert report["protocol"] == "last5"
    assert report["test_ratings"] == 5 * int((sizes > 5).sum())
    assert report["train_ratings"] == int(sizes.sum()) - report["test_ratings"]
    default = _ndcg(report, f"api: {report['default_strategy']}")
    assert 0 < default <= 1
    assert default > _ndcg(report, "api: random")


@pytest.mark.slow
def test_evaluate_all_protocols_and_their_comparison(run_cli, generated: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("evaluate", "--data", str(generated), "--protocol", "all", "--json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["protocols"] == ["temporal", "random", "last5"]
    ratings = len(pd.read_csv(generated / "ratings.csv"))
    assert out["reports"]["random"]["test_ratings"] == int(ratings * 0.2)
    for protocol, report in out["reports"].items():
        assert report["protocol"] == protocol
        assert report["train_ratings"] + report["test_ratings"] == ratings
        default = f"api: {report['default_strategy']}"
        # the default ranking beats a random pick under every protocol
        assert _ndcg(report, default) > _ndcg(report, "api: random"), protocol
    comparison = {entry["strategy"].split(" (")[0]: entry for entry in out["comparison"]}
    assert len(comparison) == len(out["reports"]["temporal"]["strategies"])
    for name, entry in comparison.items():
        for protocol, report in out["reports"].items():
            assert entry[protocol]["ndcg"]["mean"] == _ndcg(report, name)
            assert 0 <= entry[protocol]["coverage"]["mean"] <= 1


@pytest.mark.slow
def test_evaluate_all_prints_each_protocol_then_one_comparison(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("evaluate", "--data", str(_planted(tmp_path)), "--k", "5", "--protocol", "all")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    headings = [out.index(f" protocol {protocol} ") for protocol in ("temporal", "random", "last5")]
    assert headings == sorted(headings)
    assert out.count("user lists; relevant = held-out rating >= 4") == 3
    assert "random holdout 0.2 of all ratings (seed 0)" in out
    assert "each user's last 5 ratings held out" in out
    assert out.index(" all protocols ") > headings[-1]
    comparison = out[out.index(" all protocols ") :]
    assert "user lists per protocol: NDCG@5 (relevant = held-out rating >= 4) and coverage" in comparison
    for protocol in ("temporal", "random", "last5"):
        assert f"{protocol} NDCG@5" in comparison and f"{protocol} coverage" in comparison

    def means(marker: str) -> list[float]:  # a strategy's row (its first line): the six means
        line = next(line for line in comparison.splitlines() if line.startswith("│") and marker in line)
        return [float(cell.split()[0]) for cell in line.split("│")[2:-1]]

    default, random = means("(default)"), means("api: random")
    assert len(default) == len(random) == 6  # NDCG and coverage per protocol
    for column in (0, 2, 4):  # the NDCG columns: the default ranking beats a random pick on each
        assert default[column] > random[column] + 0.1
