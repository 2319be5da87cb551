"""`cinecluster synth`: MovieLens-shaped files, deterministic per seed, loadable as they are."""

import csv
import hashlib
import itertools
import json
from collections import Counter
from pathlib import Path

import pytest


def _digest(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.glob("*.csv"))}


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    from loaders.synth import synthesize

    out = tmp_path_factory.mktemp("synth") / "a"
    synthesize(out, users=200, movies=300, ratings=12_000, seed=7)
    return out


def test_cli_writes_movielens_shaped_files(run_cli, tmp_path) -> None:
    result = run_cli("synth", "--out", str(tmp_path), "--users", "50", "--movies", "80", "--ratings", "2000")
    assert result.exit_code == 0, result.stderr
    assert "2,000 ratings by 50 users" in result.stdout
    headers = {
        name: (tmp_path / name).open().readline().strip()
        for name in ("movies.csv", "ratings.csv", "tags.csv")
    }
    assert headers == {
        "movies.csv": "movieId,title,genres",
        "ratings.csv": "userId,movieId,rating,timestamp",
        "tags.csv": "userId,movieId,tag,timestamp",
    }


def test_same_seed_same_files_other_seed_other_files(small, tmp_path) -> None:
    from loaders.synth import synthesize

    synthesize(tmp_path / "b", users=200, movies=300, ratings=12_000, seed=7)
    synthesize(tmp_path / "c", users=200, movies=300, ratings=12_000, seed=8)
    assert _digest(tmp_path / "b") == _digest(small)
    assert _digest(tmp_path / "c")["ratings.csv"] != _digest(small)["ratings.csv"]


def test_ratings_shape(small) -> None:
    with (small / "ratings.csv").open() as stream:
        rows = [(int(u), int(m), float(r), int(t)) for u, m, r, t in list(csv.reader(stream))[1:]]
    with (small / "movies.csv").open() as stream:
        movie_ids = {int(row[0]) for row in list(csv.reader(stream))[1:]}
    assert len(rows) == 12_000
    pairs = [(u, m) for u, m, _r, _t in rows]
    assert pairs == sorted(pairs) and len(set(pairs)) == len(pairs)  # MovieLens order, unique
    assert {r for _u, _m, r, _t in rows} <= {x / 2 for x in range(1, 11)}
    assert {m for _u, m, _r, _t in rows} <= movie_ids
    assert {u for u, _m, _r, _t in rows} == set(range(1, 201))
    for (u1, _m1, _r1, t1), (u2, _m2, _r2, t2) in itertools.pairwise(rows):
        assert u1 != u2 or t1 <= t2  # timestamps increase down each user's rows
    fours = sum(r == 4.0 for _u, _m, r, _t in rows) / len(rows)
    assert 0.2 < fours < 0.33  # 4.0 is MovieLens' most common rating (27%)


def test_movies_have_years_and_genres(small) -> None:
    with (small / "movies.csv").open() as stream:
        movies = list(csv.DictReader(stream))
    assert len(movies) == 300
    with_year = [m for m in movies if m["title"].endswith(")") and m["title"][-5:-1].isdigit()]
    assert len(with_year) > 280
    assert all(m["genres"] for m in movies)


def test_synthetic_files_load_cleanly(small, run_cli) -> None:
    result = run_cli("load", str(small), "--strict", "--json")
    assert result.exit_code == 0, result.stderr
    loaded = {f["kind"]: f["loaded"] for f in json.loads(result.stdout)["files"]}
    assert loaded["movies"] == 300 and loaded["ratings"] == 12_000


def test_impossible_sizes_are_a_one_line_error(run_cli, tmp_path) -> None:
    result = run_cli("synth", "--out", str(tmp_path), "--users", "2", "--movies", "10", "--ratings", "100")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: 100 ratings do not fit 2 users x 5 movies each")


def test_liked_movies_concentrate_in_each_users_genres(small) -> None:
    with (small / "movies.csv").open() as stream:
        genres = {int(row["movieId"]): row["genres"].split("|") for row in csv.DictReader(stream)}
    with (small / "ratings.csv").open() as stream:
        liked = [
            (int(row["userId"]), int(row["movieId"]))
            for row in csv.DictReader(stream)
            if float(row["rating"]) >= 4.0
        ]
    overall = Counter(g for _u, m in liked for g in genres[m])
    by_user: dict[int, Counter[str]] = {}
    for user, movie in liked:
        by_user.setdefault(user, Counter()).update(genres[movie])
    lift = []
    for counter in by_user.values():
        genre, count = counter.most_common(1)[0]
        lift.append((count / counter.total()) / (overall[genre] / overall.total()))
    # a user's favourite genre takes a clearly larger share of their liked movies than of everyone's
    assert sorted(lift)[len(lift) // 2] > 1.3
