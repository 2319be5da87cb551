"""The live ranking's statements planned per execution vs prepared (PostgreSQL's generic plan).
Writes the section "Live ranking: planned vs prepared" of docs/benchmarks.md.

The API prepares a user's live statements (service/recommenders/weighted.py): after psycopg's
5th use on a connection they run as prepared statements, and PostgreSQL runs a generic plan
(plan_cache_mode auto). Here the same statement, same parameters, on two connections of one
database, interleaved user by user: unprepared (planned each time, as a basket's statements
are) against prepared with plan_cache_mode = force_generic_plan (the plan the API settles on:
under plan_cache_mode auto, PostgreSQL picks it after 5 custom plans, as pg_prepared_statements'
generic_plans shows).
Client-side wall time per statement, jit off as in the API; every pair must return equal rows.

    flock /tmp/cinecluster-bench.lock .venv/bin/python benchmarks/live_plans.py cc25m
"""

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from cinecluster import databases
from service.recommenders import ease, liked_neighbours
from service.recommenders.weighted import _ranking_params

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import machine, write_section  # benchmarks/load.py: shared helpers

TITLE = "Live ranking: planned vs prepared"
STRATEGIES = {"ease (default)": ease.RANKING, "liked_neighbours": liked_neighbours.RANKING}


def timed(conn: psycopg.Connection, sql: str, params: dict, prepare: bool) -> tuple[float, list]:
    start = time.perf_counter()
    rows = conn.execute(sql, params, prepare=prepare).fetchall()
    return 1000 * (time.perf_counter() - start), rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("database", help="a reclustered database: URL, or name on $DATABASE_URL's server")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    server = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    url = args.database if "://" in args.database else databases.database_url(server, args.database)
    planned, prepared = (psycopg.connect(url, autocommit=True) for _ in range(2))
    for conn in (planned, prepared):
        conn.execute("SET jit = off")
    prepared.execute("SET plan_cache_mode = force_generic_plan")
    version = planned.execute("SELECT version FROM active_model").fetchone()[0]
    users = [
        u
        for (u,) in planned.execute(
            "SELECT user_id FROM user_recommendations WHERE version = %s ORDER BY hashint4(user_id) LIMIT %s",
            (version, args.users),
        )
    ]
    lines = []
    for name, ranking in STRATEGIES.items():
        for genre in (None, "Drama"):
            statement = ranking.by_user.ranked[genre is not None]
            times: dict[bool, list[float]] = {False: [], True: []}
            for _ in range(args.rounds):
                for user in users:
                    params = {
                        **statement.defaults,
                        **_ranking_params(version, genre, ()),
                        "user_id": user,
                        "n": 10,
                        "offset": 0,
                    }
                    a, rows_a = timed(planned, statement.sql, params, prepare=False)
                    b, rows_b = timed(prepared, statement.sql, params, prepare=True)
                    if rows_a != rows_b:
                        raise SystemExit(f"{name}, user {user}: the two plans returned different rows")
                    times[False].append(a)
                    times[True].append(b)
            p50 = {k: statistics.median(v) for k, v in times.items()}
            p95 = {k: statistics.quantiles(v, n=20)[-1] for k, v in times.items()}
            lines.append(
                f"| {name}{', genre ' + genre if genre else ''} | {p50[False]:.1f} / {p95[False]:.1f} "
                f"| {p50[True]:.1f} / {p95[True]:.1f} | {p50[True] / p50[False]:.2f}x |"
            )
    n = planned.execute("SELECT count(*) FROM ratings").fetchone()[0]
    body = f"""`benchmarks/live_plans.py`: the live SQL statement of a user's
ranking (`GET /recommend/user`, n=10: a just-rated user's while the API loads its model, and
`liked_neighbours`) planned at each execution against prepared with PostgreSQL's generic plan,
same users, interleaved
on two connections; {len(users)} users x {args.rounds} rounds, {n:,} ratings; equal rows for every pair.

| strategy | planned p50 / p95 ms | prepared (generic plan) p50 / p95 ms | p50 ratio |
|---|---:|---:|---:|
{chr(10).join(lines)}

Machine: {machine()}; run on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.
Reproduce: `flock /tmp/cinecluster-bench.lock .venv/bin/python benchmarks/live_plans.py cc25m`.
"""
    print(body)
    if not args.no_write:
        write_section(TITLE, body)


if __name__ == "__main__":
    main()
