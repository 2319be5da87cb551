"""The dashboard's user page at scale, for users whose stored list is current and for users who
just rated (ranked live), beside /recommend/user/{id}?n=10 for the same users.

Against a database that is loaded and reclustered (`--url`, default DATABASE_URL; for the
figures in docs/benchmarks.md a synthetic 25M: `cinecluster synth --out DIR`, then `load DIR`
and `recluster`), or, with `--data DIR`, a fresh database cinecluster_dash loaded and reclustered
here with the real CLI (dropped at the end unless --keep). THE RUN WRITES to the database: one
rating per just-rated user (POST /ratings), so point --url at a copy you can spare.

`cinecluster serve` (1 worker) runs as a subprocess; requests go one at a time over one
keep-alive connection on 127.0.0.1, after 3 warm-up pages of other users (loopback adds well
under a millisecond: the times are the server's). --users users are drawn (seeded) among those
with a current stored list and no rating change, and as many others:
  current:     their page, then /recommend/user/{id}?n=10 (served from the stored list);
  just rated:  POST /ratings (4 stars for the first movie of their stored list), their page,
               then /recommend/user/{id}?n=10 (ranked per request with the model the API holds:
               no scheduler runs, so no refresh re-ranks them meanwhile; benchmarks/freshness.py
               measures that).
Each user's page once: p50 and p95 over users, against the 300 ms goal (reported, not asserted).
Writes the "Dashboard" section of docs/benchmarks.md (or prints it: --no-write).

    .venv/bin/python benchmarks/dashboard.py [--url URL | --data DIR] [--users 100]
"""

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_db import prepare  # noqa: E402  (a database of its own)
from load import machine, write_section  # noqa: E402  (benchmarks/load.py: shared helpers)
from serve_process import served  # noqa: E402  (`cinecluster serve`, as the API tests start it)

from cinecluster.databases import drop_database  # noqa: E402
from cinecluster.settings import Settings  # noqa: E402

GOAL_MS = 300
LOGS = Path(tempfile.gettempdir())  # the server's output: serve-PORT.log
SCRATCH_DB = "cinecluster_dash"

# Users with a current stored list: no rating change since any run; the first movie of their
# stored list is what the just-rated half rates.
USERS = text(
    """
    SELECT s.user_id, s.movie_id, (SELECT count(*) FROM ratings r WHERE r.user_id = s.user_id) AS ratings
    FROM (
        SELECT u.user_id, u.movie_ids[1] AS movie_id
        FROM user_recommendations u
        WHERE u.version = (SELECT version FROM active_model)
          AND NOT EXISTS (SELECT 1 FROM user_rating_changes c WHERE c.user_id = u.user_id)
        ORDER BY hashint4extended(u.user_id, :seed), u.user_id
        LIMIT :n
    ) s
    """
)


def _timed(client: httpx.Client, path: str) -> float:
    started = time.perf_counter()
    client.get(path).raise_for_status()
    return (time.perf_counter() - started) * 1000


def measure(url: str, users: int, seed: int, port: int) -> tuple[dict[str, list[float]], list[int]]:
    """Times per measurement (ms, one per user), and the sampled users' rating counts."""
    engine = create_engine(url)
    with engine.connect() as conn:
        drawn = conn.execute(USERS, {"seed": seed, "n": 2 * users + 3}).all()
    engine.dispose()
    if len(drawn) < 2 * users + 3:
        raise SystemExit(f"only {len(drawn)} users with a current stored list; need {2 * users + 3}")
    warm, current, rating = drawn[:3], drawn[3 : 3 + users], drawn[3 + users :]
    token = secrets.token_urlsafe(16)
    times: dict[str, list[float]] = {
        "page_current": [],
        "api_stored": [],
        "page_rated": [],
        "api_live": [],
    }
    with (
        served(url, LOGS, token=token, ready="/readyz", port=port) as server,
        httpx.Client(base_url=server.base, timeout=60) as client,
    ):
        for user in warm:  # connections, prepared statements, the cluster rankings' cache
            _timed(client, f"/dashboard/users/{user.user_id}")
            _timed(client, f"/recommend/user/{user.user_id}?n=10")
        for user in current:
            times["page_current"].append(_timed(client, f"/dashboard/users/{user.user_id}"))
            times["api_stored"].append(_timed(client, f"/recommend/user/{user.user_id}?n=10"))
        auth = {"Authorization": f"Bearer {token}"}
        for user in rating:
            body = [{"userId": user.user_id, "movieId": user.movie_id, "rating": 4.0}]
            client.post("/ratings", json=body, headers=auth).raise_for_status()
            times["page_rated"].append(_timed(client, f"/dashboard/users/{user.user_id}"))
            times["api_live"].append(_timed(client, f"/recommend/user/{user.user_id}?n=10"))
    return times, [u.ratings for u in current + rating]


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _table(times: dict[str, list[float]], counts: list[int], dataset: str) -> str:
    rows = [
        ("user page, stored list current", "page_current"),
        ("user page, just rated (POST /ratings, then the page)", "page_rated"),
        ("`/recommend/user/{id}?n=10`, stored list current", "api_stored"),
        ("`/recommend/user/{id}?n=10`, just rated (ranked live)", "api_live"),
    ]
    lines = [
        "| request | users | p50 ms | p95 ms | max ms | p95 under 300 ms |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for label, key in rows:
        values = times[key]
        p50, p95 = statistics.median(values), _p(values, 0.95)
        lines.append(
            f"| {label} | {len(values)} | {p50:.1f} | {p95:.1f} | {max(values):.1f} |"
            f" {'yes' if p95 < GOAL_MS else 'no'} |"
        )
    ratio = statistics.median(times["api_live"]) / statistics.median(times["api_stored"])
    quartiles = statistics.quantiles(counts, n=4)
    return (
        f"Dataset: {dataset}; the sampled users rated {min(counts)} to {max(counts)} movies (median"
        f" {quartiles[1]:.0f}, quartiles {quartiles[0]:.0f} and {quartiles[2]:.0f}).\n\n"
        + "\n".join(lines)
        + f"\n\nThe live ranking of a just-rated user costs {ratio:.1f}x the stored list (p50s, same run)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--url", help="a loaded, reclustered database (default DATABASE_URL); it gets written"
    )
    parser.add_argument("--data", type=Path, help="load and recluster this directory into a scratch database")
    parser.add_argument(
        "--dataset", default="synthetic 25M ratings", help="what to call the data in the table"
    )
    parser.add_argument("--users", type=int, default=100, help="users per measurement")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--port", type=int, default=8790)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database of --data")
    parser.add_argument("--no-write", action="store_true", help="print the section, leave the docs alone")
    args = parser.parse_args()
    url = args.url or Settings().require_database_url()
    if args.data:
        url = prepare(url, SCRATCH_DB, args.data)
    load = os.getloadavg()[0]  # other work on the machine shows in the times: said beside them
    try:
        times, counts = measure(url, args.users, args.seed, args.port)
    finally:
        if args.data and not args.keep:
            drop_database(args.url or Settings().require_database_url(), SCRATCH_DB)
    body = (
        "Server time of the dashboard's user page (every strategy's list, the liked profile, the"
        " affinities) and of `/recommend/user` for the same users: `cinecluster serve`, 1 worker, one"
        " keep-alive connection on 127.0.0.1, each user's page once, p95 against the"
        f" {GOAL_MS} ms goal. Reproduce: `.venv/bin/python benchmarks/dashboard.py --url URL` (it"
        " posts one rating per just-rated user: use a copy). No scheduler runs, so just-rated users stay on"
        " the live path (with the refresh: the Freshness section).\n\n"
        f"Machine: {machine()}; run {date.today().isoformat()}, load average {load:.1f} at the start.\n\n"
        + _table(times, counts, args.dataset)
    )
    print(body)
    if not args.no_write:
        write_section("Dashboard", body)


if __name__ == "__main__":
    main()
