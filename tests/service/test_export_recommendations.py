"""`cinecluster export-recommendations -o FILE` through the CLI's entry point: every user's stored
list of the active version, the same lists the API serves, as CSV or Parquet; one-line errors."""

import csv
import io
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from api_helpers import api_client
from sqlalchemy import create_engine, text

from ranking import LIST_LENGTH


@pytest.fixture
def db_url(clustered_db_url: str) -> str:
    """run_cli targets this: the sample clustered, version 1 active."""
    return clustered_db_url


def _stored_lists(url: str) -> dict[int, list[int]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT user_id, movie_ids FROM user_recommendations"
                " WHERE version = (SELECT version FROM active_model)"
            )
        ).all()
    engine.dispose()
    return {r.user_id: list(r.movie_ids) for r in rows}


def _csv_rows(text_: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text_)))


def test_every_users_stored_list_is_written_as_the_api_serves_it(
    run_cli, db_url: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "lists.csv"
    result = run_cli("export-recommendations", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    stored = _stored_lists(db_url)
    rows = _csv_rows(out.read_text())
    assert result.stdout == (
        f"version 1: {len(rows)} recommendations of {len(stored)} users written to {out} (csv)\n"
    )
    assert list(rows[0]) == ["userId", "rank", "movieId", "score", "sourceMovieId", "justRated"]
    exported: dict[int, list[int]] = {}
    for r in rows:
        exported.setdefault(int(r["userId"]), []).append(int(r["movieId"]))
        assert int(r["rank"]) == len(exported[int(r["userId"])])
    assert exported == stored
    assert [int(r["userId"]) for r in rows] == sorted(int(r["userId"]) for r in rows)
    with api_client(db_url) as client:
        for user in list(stored)[:5]:
            page = client.get(f"/recommend/user/{user}", params={"n": LIST_LENGTH}).json()
            served = [(i["movieId"], i["score"]) for i in page]
            assert served == [
                (int(r["movieId"]), round(float(r["score"]), 6)) for r in rows if int(r["userId"]) == user
            ]

    parquet = tmp_path / "lists.parquet"
    result = run_cli("export-recommendations", "-o", str(parquet))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.endswith(f"written to {parquet} (parquet)\n")
    table = pq.read_table(parquet).to_pylist()
    assert [(t["userId"], t["rank"], t["movieId"], t["sourceMovieId"], t["justRated"]) for t in table] == [
        (
            int(r["userId"]),
            int(r["rank"]),
            int(r["movieId"]),
            int(r["sourceMovieId"]),
            r["justRated"] == "True",
        )
        for r in rows
    ]
    assert all(int(r["sourceMovieId"]) > 0 for r in rows)
    assert [t["score"] for t in table] == [float(r["score"]) for r in rows]

    to_stdout = run_cli("export-recommendations", "-o", "-")
    assert to_stdout.exit_code == 0 and _csv_rows(to_stdout.stdout) == rows


def test_without_pyarrow_parquet_is_a_one_line_hint_and_csv_still_works(db_url: str, tmp_path: Path) -> None:
    """As if pyarrow were not installed (None in sys.modules makes its import fail)."""

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        script = (
            "import sys; sys.modules['pyarrow'] = None;"
            f" sys.argv = ['cinecluster', 'export-recommendations', *{list(args)!r}];"
            " from cinecluster.cli import main; main()"
        )
        env = {"DATABASE_URL": db_url, "PATH": "", "PYTHONPATH": ":".join(sys.path)}
        return subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
        )

    refused = run("-o", str(tmp_path / "l.parquet"))
    assert (refused.returncode, refused.stderr) == (
        2,
        "error: --format parquet needs pyarrow: pip install pyarrow (or write CSV)\n",
    )
    assert not (tmp_path / "l.parquet").exists()
    written = run("-o", str(tmp_path / "l.csv"))
    assert written.returncode == 0, written.stderr


def test_mistakes_are_one_line_errors(run_cli, databases, loaded_template: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    missing = run_cli("export-recommendations", "-o", str(tmp_path / "nope" / "l.csv"))
    assert (missing.exit_code, missing.stderr) == (
        2,
        f"error: directory {tmp_path / 'nope'} does not exist\n",
    )
    stdout_parquet = run_cli("export-recommendations", "-o", "-", "--format", "parquet")
    assert (stdout_parquet.exit_code, stdout_parquet.stderr) == (
        2,
        "error: parquet cannot go to stdout: give a file name\n",
    )
    no_model = run_cli(
        "export-recommendations",
        "-o",
        str(tmp_path / "l.csv"),
        env={"DATABASE_URL": databases.create(template=loaded_template)},
    )
    assert (no_model.exit_code, no_model.stderr) == (
        2,
        "error: no model yet: run `cinecluster recluster` first\n",
    )
    assert not (tmp_path / "l.csv").exists()
