"""The CLI through its entry point: version 1, version 2, rollback, exports, one-line errors."""

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import onnxruntime as rt
import pytest
from sqlalchemy import create_engine, text

from scheduler.features import features_for
from scheduler.options import ReclusterOptions
from scheduler.placement import load_model

# figures of ml-latest-small itself (counts, user and movie ids, titles)
pytestmark = pytest.mark.real_sample


@pytest.fixture
def db_url(loaded_db_url: str) -> str:
    """run_cli targets this: ml-latest-small loaded, no model yet."""
    return loaded_db_url


def test_recluster_twice_then_roll_back_and_export(run_cli, db_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first = run_cli("recluster")
    assert first.exit_code == 0, first.stderr
    assert first.stdout.startswith("version 1 active (run 1): 10 clusters over 9742 movies, 100836 ratings")
    assert "silhouette" in first.stdout and "Davies-Bouldin" in first.stdout

    second = run_cli("recluster", "--k", "10", "--batch-size", "1000", "--seed", "42", "--json")
    assert second.exit_code == 0, second.stderr
    result = json.loads(second.stdout)
    assert result["version"] == 2
    assert sum(result["metrics"]["cluster_sizes"]) == 9742
    assert result["data_counts"] == {"movies": 9742, "ratings": 100836, "users": 610, "tags": 3683}
    # the version keeps every option of its run (the engine: the one that ran), as --json prints
    assert {**result["params"], "engine": None}.items() >= ReclusterOptions().stored().items()
    assert result["params"]["engine"] == "local" and result["params"]["features"]["genres"]

    listed = run_cli("model", "list", "--json")
    assert [(v["version"], v["active"]) for v in json.loads(listed.stdout)] == [(1, False), (2, True)]

    rollback = run_cli("model", "activate", "1")
    assert (rollback.exit_code, rollback.stdout) == (0, "version 1 active\n")
    engine = create_engine(db_url)
    with engine.connect() as conn:
        view = conn.execute(
            text(
                "SELECT model_version, count(*), count(DISTINCT cluster)"
                " FROM current_movie_clusters GROUP BY 1"
            )
        ).all()
        expected = dict(conn.execute(text("SELECT movie_id, cluster FROM current_movie_clusters")).all())
        model = load_model(conn)
        assert model is not None
        features = features_for(conn, model.spec, sorted(expected)).values
    engine.dispose()
    assert [tuple(r) for r in view] == [(1, 9742, 10)]
    assert "* " in run_cli("model", "list").stdout.splitlines()[1]  # version 1 marked active

    out = tmp_path / "clusters_movies.csv"
    assert run_cli("export-clusters", "-o", str(out)).exit_code == 0
    with out.open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["movieId", "title", "genres", "cluster"]
    assert rows[0] == {**rows[0], "movieId": "1", "title": "Toy Story (1995)"}
    assert rows[0]["genres"] == "Adventure|Animation|Children|Comedy|Fantasy"
    assert {int(r["movieId"]): int(r["cluster"]) for r in rows} == expected

    pkl, onnx = tmp_path / "kmeans_model.pkl", tmp_path / "model.onnx"
    assert run_cli("export-model", "--format", "joblib", "-o", str(pkl)).exit_code == 0
    exported = run_cli("export-model", "--version", "2", "--format", "onnx", "-o", str(onnx))
    assert exported.stdout.startswith(f"version 2 written to {onnx} (onnx, ")
    labels = joblib.load(pkl).predict(features)
    np.testing.assert_array_equal(labels, [expected[m] for m in sorted(expected)])
    session = rt.InferenceSession(onnx.read_bytes(), providers=["CPUExecutionProvider"])
    assert session.run(["label"], {session.get_inputs()[0].name: features})[0].shape == (9742,)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("model", "activate", "9"), "error: model version 9 does not exist (kept versions: none)\n"),
        (("export-model", "-o", "x.pkl"), "error: no model yet: run `cinecluster recluster` first\n"),
        (("export-clusters", "-o", "-"), "error: no model yet: run `cinecluster recluster` first\n"),
        (("recluster", "--k", "1"), "error: --k must be at least 2, got 1\n"),
        (("recluster", "--batch-size", "0"), "error: --batch-size must be positive, got 0\n"),
        (("recluster", "--ease-lambda", "-1"), "error: --ease-lambda must be positive, got -1.0\n"),
        (("recluster", "--ease-movies", "1"), "error: --ease-movies must be at least 2, got 1\n"),
        (("recluster", "--ease-k", "5000"), "error: --ease-k must be at most 1000, got 5000\n"),
        (
            ("recluster", "--spark-master", "local[2]"),
            "error: --spark-master needs --engine spark (or CINECLUSTER_RECLUSTER_ENGINE=spark)\n",
        ),
    ],
)
def test_mistakes_are_one_line_errors_and_change_nothing(
    run_cli, args: tuple[str, ...], message: str
) -> None:  # type: ignore[no-untyped-def]
    result = run_cli(*args)
    assert (result.exit_code, result.stderr) == (2, message)
    assert run_cli("model", "list").stdout == "no model versions yet (run `cinecluster recluster`)\n"


def test_export_to_a_missing_directory_is_a_one_line_error(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert run_cli("recluster", "--k", "3").exit_code == 0
    result = run_cli("export-model", "-o", str(tmp_path / "nope" / "m.pkl"))
    assert (result.exit_code, result.stderr) == (2, f"error: directory {tmp_path / 'nope'} does not exist\n")
    listing = run_cli("export-clusters", "-o", "-")
    assert len(list(csv.reader(io.StringIO(listing.stdout)))) == 9743


def test_engine_spark_without_the_extra_is_a_one_line_hint(db_url: str) -> None:
    """As if pyspark were not installed (None in sys.modules makes its import fail)."""
    script = (
        "import sys; sys.modules['pyspark'] = None;"
        " sys.argv = ['cinecluster', 'recluster', '--engine', 'spark'];"
        " from cinecluster.cli import main; main()"
    )
    env = {**os.environ, "DATABASE_URL": db_url}
    command = [sys.executable, "-c", script]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    hint = "pip install 'cinecluster[spark]' (and a Java 17+ runtime)"
    assert (result.returncode, result.stderr) == (2, f"error: --engine spark needs the spark extra: {hint}\n")
