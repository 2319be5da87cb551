"""Dashboard pages: server time per page, beside the API's JSON for the same data.

Per dataset (ml-latest-small; synthetic 5M ratings made by `cinecluster synth`), in its own
database cinecluster_dash_<label> (load + recluster with the real CLI; dropped at the end
unless --keep): `cinecluster serve` as a subprocess, then each page requested `--rounds`
times over one keep-alive connection on 127.0.0.1 after 2 warm-up requests (loopback adds
well under a millisecond, so the time is the server's). Medians and p95 per page; the goal
is every page under 300 ms (reported, not asserted). Writes docs/benchmarks.md, "Dashboard".

    .venv/bin/python benchmarks/dashboard.py [--rounds 20] [--skip-5m] [--keep]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from load import machine, write_section  # noqa: E402  (benchmarks/load.py: shared helpers)

from cinecluster.settings import DEFAULT_SAMPLE_DATA, Settings  # noqa: E402

GOAL_MS = 300
CLI = [sys.executable, "-m", "cinecluster"]


def _cli(url: str, *args: str) -> None:
    subprocess.run([*CLI, *args], env={**os.environ, "DATABASE_URL": url}, check=True, capture_output=True)


def _prepare(server_url: str, label: str, data: Path) -> str:
    name = f"cinecluster_dash_{label}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    for step in (["db", "upgrade"], ["load", str(data)], ["recluster"]):
        started = time.perf_counter()
        _cli(url, *step)
        print(f"  {label}: {' '.join(step[:1])} {time.perf_counter() - started:.0f} s", flush=True)
    return url


def _drop(server_url: str, label: str) -> None:
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "cinecluster_dash_{label}" WITH (FORCE)'))
    admin.dispose()


def _pages(client: httpx.Client) -> list[tuple[str, str, str | None]]:
    """(page, dashboard path, the API path answering the same data or None), for real ids."""
    clusters = client.get("/clusters").json()["clusters"]
    biggest = max(clusters, key=lambda c: c["size"])["cluster"]
    popular = client.get("/movies", params={"limit": 1}).json()["items"][0]["movieId"]
    return [
        ("overview", "/dashboard", "/"),
        ("clusters", "/dashboard/clusters", "/clusters"),
        ("cluster (biggest)", f"/dashboard/clusters/{biggest}", f"/clusters/{biggest}/movies"),
        ("search 'the'", "/dashboard/movies?search=the", "/movies?search=the"),
        ("movie (most rated)", f"/dashboard/movies/{popular}", f"/recommend/movie/{popular}?n=10"),
        ("user 1", "/dashboard/users/1", "/recommend/user/1?n=10"),
        ("models", "/dashboard/models", "/models"),
    ]


def _time(client: httpx.Client, path: str, rounds: int) -> tuple[float, float]:
    for _ in range(2):
        client.get(path).raise_for_status()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        client.get(path).raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(0.95 * len(times)))]


def measure(url: str, rounds: int) -> list[tuple[str, float, float, float | None]]:
    port = 8790
    server = subprocess.Popen(
        [*CLI, "serve", "--port", str(port)],
        env={**os.environ, "DATABASE_URL": url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            rows = []
            for page, path, api in _pages(client):
                median, p95 = _time(client, path, rounds)
                api_median = _time(client, api, rounds)[0] if api else None
                rows.append((page, median, p95, api_median))
                print(f"  {page}: {median:.1f} ms (p95 {p95:.1f}); API {api_median:.1f} ms", flush=True)
            return rows
    finally:
        server.terminate()
        server.wait(timeout=30)


def _table(rows: list[tuple[str, float, float, float | None]]) -> str:
    lines = [
        "| page | median ms | p95 ms | the API's JSON of the same data, median ms | under 300 ms |",
        "|---|---:|---:|---:|---|",
    ]
    for page, median, p95, api in rows:
        api_text = f"{api:.1f}" if api is not None else "-"
        lines.append(
            f"| {page} | {median:.1f} | {p95:.1f} | {api_text} | {'yes' if p95 < GOAL_MS else 'no'} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--skip-5m", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the databases (then drop them by hand)")
    args = parser.parse_args()
    server_url = Settings().require_database_url()
    sections = []
    with tempfile.TemporaryDirectory(prefix="cinecluster-dash-") as scratch:
        small = Path(os.environ.get("CINECLUSTER_SAMPLE_DATA", DEFAULT_SAMPLE_DATA))
        datasets = {"small": ("ml-latest-small", small)}
        if not args.skip_5m:
            synth = Path(scratch) / "synth5m"
            subprocess.run([*CLI, "synth", "--out", str(synth), "--ratings", "5000000"], check=True)
            datasets["5m"] = ("synthetic 5M ratings (`cinecluster synth --ratings 5000000`)", synth)
        for label, (title, data) in datasets.items():
            print(f"{title}", flush=True)
            url = _prepare(server_url, label, Path(data))
            try:
                sections.append(f"### {title}\n\n{_table(measure(url, args.rounds))}")
            finally:
                if not args.keep:
                    _drop(server_url, label)
    body = (
        "Server time per dashboard page (`cinecluster serve`, 1 worker, one keep-alive connection on"
        f" 127.0.0.1, {args.rounds} requests after 2 warm-ups; p95 against the {GOAL_MS} ms goal), beside"
        " the API's JSON answer for the same data. Reproduce: `.venv/bin/python benchmarks/dashboard.py`."
        f"\n\nMachine: {machine()}.\n\n" + "\n\n".join(sections)
    )
    write_section("Dashboard", body)


if __name__ == "__main__":
    main()
