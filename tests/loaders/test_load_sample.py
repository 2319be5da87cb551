"""Loading ml-latest-small through the CLI gives exactly the MovieLens counts."""

import os
import pty
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, text

# figures of ml-latest-small itself (counts, user and movie ids, titles)
pytestmark = pytest.mark.real_sample


def _counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        counts = {
            table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in ("movies", "links", "ratings", "tags")
        }
    engine.dispose()
    return counts


def test_cli_load_gives_exact_counts(run_cli, db_url, sample_data) -> None:
    result = run_cli("load", str(sample_data))
    assert result.exit_code == 0, result.stderr
    assert "ratings.csv" in result.stdout  # the summary table
    assert _counts(db_url) == {"movies": 9742, "links": 9742, "ratings": 100836, "tags": 3683}


def test_the_load_leaves_statistics_for_every_table_it_filled(run_cli, db_url, sample_data) -> None:
    assert run_cli("load", str(sample_data)).exit_code == 0
    engine = create_engine(db_url)
    with engine.connect() as conn:
        analysed = conn.execute(
            text("SELECT DISTINCT tablename FROM pg_stats WHERE schemaname = 'public' ORDER BY 1")
        ).scalars()
        estimate = conn.execute(text("SELECT reltuples FROM pg_class WHERE relname = 'ratings'")).scalar_one()
        assert {"movies", "links", "ratings", "tags"} <= set(analysed)
    engine.dispose()
    assert estimate == 100836  # the planner's row count, set by ANALYZE


def test_loaded_template_holds_the_sample(loaded_db_url) -> None:
    assert _counts(loaded_db_url) == {"movies": 9742, "links": 9742, "ratings": 100836, "tags": 3683}


def test_quiet_when_stderr_is_not_a_terminal(run_cli, sample_data) -> None:
    result = run_cli("load", str(sample_data), "--json")
    assert result.exit_code == 0
    assert result.stderr == ""


def test_progress_bar_by_bytes_on_a_terminal(db_url, sample_data) -> None:
    primary, secondary = pty.openpty()  # stderr is a terminal, as in an interactive shell
    child = subprocess.Popen(
        [sys.executable, "-m", "cinecluster", "load", str(sample_data), "--json"],
        stdout=subprocess.PIPE,
        stderr=secondary,
        env={**os.environ, "DATABASE_URL": db_url},
    )
    os.close(secondary)
    shown = b""
    while True:
        try:
            chunk = os.read(primary, 1 << 16)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    child.communicate(timeout=600)
    os.close(primary)
    assert child.returncode == 0
    assert b"/3.2 MB" in shown  # bytes done of the files' total size
