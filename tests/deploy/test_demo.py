"""`cinecluster demo` through its entry point: load, cluster, serve; a second start skips the work."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

pytestmark = pytest.mark.slow

READY_DEADLINE_S = 180


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Demo:
    """One `python -m cinecluster demo ...` process on a free port."""

    def __init__(self, db_url: str, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cinecluster", "demo", *args, "--port", str(self.port)],
            env={**os.environ, "DATABASE_URL": db_url, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait_ready(self) -> float:
        """Poll /readyz until it answers 200 (or the process dies, or the deadline passes)."""
        started = time.monotonic()
        deadline = started + READY_DEADLINE_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                out, err = self.process.communicate()
                pytest.fail(f"demo exited with {self.process.returncode}:\n{out}\n{err}")
            try:
                if httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200:
                    return time.monotonic() - started
            except httpx.TransportError:
                pass  # not listening yet
            time.sleep(0.2)  # poll interval; the condition is the HTTP answer above
        self.process.kill()
        pytest.fail(f"demo not ready within {READY_DEADLINE_S} s:\n{self.process.communicate()}")

    def stop(self) -> tuple[int, str, str]:
        self.process.send_signal(signal.SIGTERM)
        out, err = self.process.communicate(timeout=60)
        return self.process.returncode, out, err


@pytest.mark.real_sample
def test_demo_serves_and_second_start_skips_the_work(db_url: str, sample_data: Path) -> None:
    first = Demo(db_url, "--data", str(sample_data))
    try:
        first.wait_ready()
        response = httpx.get(f"{first.base}/recommend/user/1", params={"n": 5}, timeout=10)
        assert response.status_code == 200, response.text
        recommended = response.json()
        assert len(recommended) == 5
        assert {"movieId", "title"} <= recommended[0].keys()
        dashboard = httpx.get(f"{first.base}/dashboard", timeout=10)
        assert dashboard.status_code == 200 and "Active model" in dashboard.text
    finally:
        code, out, err = first.stop()
    assert code == 0, err
    assert "9,742 movies, 100,836 ratings, 3,683 tags, 610 users" in out
    assert "load skipped" not in out and "trained now" in out
    assert "/recommend/user/1?n=5" in out
    assert f"{first.base}/dashboard" in out
    assert out.rstrip().endswith("stopped")
    assert "Traceback" not in err

    second = Demo(db_url, "--data", str(sample_data))
    try:
        second.wait_ready()
        assert httpx.get(f"{second.base}/recommend/user/1", timeout=10).status_code == 200
    finally:
        code, out, err = second.stop()
    assert code == 0, err
    assert "load skipped" in out
    assert "version 1 already active, recluster skipped" in out
    engine = create_engine(db_url)
    with engine.connect() as conn:  # the database agrees: one run, one version, the data once
        assert conn.scalar(text("SELECT count(*) FROM recluster_runs")) == 1
        assert conn.scalar(text("SELECT max(version) FROM model_versions")) == 1
        assert conn.scalar(text("SELECT count(*) FROM ratings")) == 100_836
    engine.dispose()


def test_offline_without_data_says_so_in_one_line_and_serves_synthetic_data(
    db_url: str, tmp_path: Path
) -> None:
    demo = Demo(
        db_url,
        env={
            "CINECLUSTER_DATASET_URL": "http://127.0.0.1:9/ml-latest-small.zip",
            "XDG_CACHE_HOME": str(tmp_path),
        },
    )
    try:
        demo.wait_ready()
        # the summary's examples work on synthetic data: its movie ids start at 1, like MovieLens'
        for path in ("/movie/1", "/recommend/movie/1?n=5", "/recommend/user/1?n=5"):
            assert httpx.get(f"{demo.base}{path}", timeout=10).status_code == 200, path
    finally:
        code, out, err = demo.stop()
    assert code == 0, err
    said = [line for line in out.splitlines() if "could not download" in line]
    assert said == [
        "data     could not download http://127.0.0.1:9/ml-latest-small.zip ([Errno 111] Connection refused);"
        " using synthetic data instead (--data DIR loads your own files)"
    ]
    assert "loaded   synthetic (1,000 users" in out
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--data", "/nonexistent/folder"],
            "error: --data /nonexistent/folder: not a directory (leave --data out for ml-latest-small,"
            " or use --synthetic)",
        ),
        (["--data", "x", "--synthetic"], "error: --data and --synthetic exclude each other"),
    ],
)
def test_bad_options_are_one_line_errors_before_any_work(db_url: str, args: list[str], message: str) -> None:
    demo = Demo(db_url, *args)
    out, err = demo.process.communicate(timeout=120)
    assert demo.process.returncode == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), err
    assert out == ""  # nothing started: no database, no migration


def test_busy_port_fails_before_any_work(run_cli, sample_data: Path) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = run_cli("demo", "--data", str(sample_data), "--port", str(busy.getsockname()[1]))
    assert result.exit_code == 2
    assert result.stderr.strip().startswith("error: cannot listen on 127.0.0.1:")
    assert "database" not in result.stdout  # failed before touching the database


def test_synthetic_demo_generates_once_and_serves(db_url: str, tmp_path: Path) -> None:
    cache = {"XDG_CACHE_HOME": str(tmp_path)}
    demo = Demo(db_url, "--synthetic", env=cache)
    try:
        demo.wait_ready()
        clusters = httpx.get(f"{demo.base}/clusters", timeout=10)
        assert clusters.status_code == 200, clusters.text
    finally:
        code, out, err = demo.stop()
    assert code == 0, err
    assert "loaded   synthetic (1,000 users, 3,000 movies, 100,000 ratings)" in out
    generated = tmp_path / "cinecluster" / "synthetic-v2-1000u-3000m-100000r-s42"
    assert sorted(p.name for p in generated.iterdir()) == ["movies.csv", "ratings.csv", "tags.csv"]
    assert [p.name for p in (tmp_path / "cinecluster").iterdir()] == [generated.name]  # no leftovers
