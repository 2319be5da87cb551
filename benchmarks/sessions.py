"""Session recommendations, and many users per call against one call per user, through
`cinecluster serve`.

Data: with `--url`, an existing loaded and reclustered database (only read); else a scratch
database cinecluster_sessions on DATABASE_URL's server, loaded and reclustered here with the real
CLI from `--data DIR`, or from `cinecluster synth` output written into a temporary directory
(`--ratings`, default 1,000,000, with users and movies in the proportions of the synthetic 25M
set: 162,000 users and 62,000 movies per 25M ratings, the catalogue kept whole), dropped at the
end unless --keep.

`cinecluster serve` (1 worker) runs as a subprocess; requests go one at a time over one
keep-alive connection on 127.0.0.1 after a warm-up (loopback adds well under a millisecond):
  session: POST /recommend/session?n=10, --requests per basket kind, each basket a different
           user's latest liked movies in time order (10 or 100 of them; seeded draw), and the
           empty basket (the most rated movies); p50 and p95, against the 20 ms p50 goal;
  users:   --rounds rounds; each draws 100 users with a current stored list and times
           POST /recommend/users?n=10 for all of them, then GET /recommend/user/{id}?n=10 for
           each in turn; medians over the rounds, and the ratio.
Writes the "Sessions and many users" section of docs/benchmarks.md (or prints it: --no-write).

    .venv/bin/python benchmarks/sessions.py [--url URL | --data DIR | --ratings 1000000]
"""

import argparse
import os
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
from bench_db import cli, prepare  # noqa: E402  (a database of its own)
from load import machine, write_section  # noqa: E402  (benchmarks/load.py: shared helpers)
from serve_process import served  # noqa: E402  (`cinecluster serve`, as the API tests start it)

from cinecluster.databases import drop_database  # noqa: E402
from cinecluster.settings import Settings  # noqa: E402

GOAL_P50_MS = 20
LOGS = Path(tempfile.gettempdir())  # the server's output: serve-PORT.log
SCRATCH_DB = "cinecluster_sessions"
BATCH = 100
NOTES = """How it scales: a session reads its basket from the request and the active version's item
tables, which are movies-sized (the item model's rows of its --ease-movies most-liked movies,
at most --ease-k each; the successors), never the ratings, so its cost follows the basket's
size, not the number of ratings (the 20 ms goal is set at synthetic 25M). The empty basket
reads the most rated movies in order (index ix_movie_features_popularity).
`POST /recommend/users` reads all the stored pages in one statement; users whose stored list
cannot serve (they rated since it was ranked) are ranked live one by one, as a single call
would."""

# Users with enough liked ratings for a basket of :size, their latest liked movies oldest first.
BASKETS = text(
    """
    SELECT u.user_id, array_agg(l.movie_id ORDER BY l.ts, l.movie_id) AS basket
    FROM (SELECT user_id FROM ratings WHERE rating >= 4 GROUP BY user_id HAVING count(*) >= :size
          ORDER BY hashint4extended(user_id, :seed), user_id LIMIT :k) u
    CROSS JOIN LATERAL (SELECT r.movie_id, r.ts FROM ratings r
                        WHERE r.user_id = u.user_id AND r.rating >= 4
                        ORDER BY r.ts DESC, r.movie_id DESC LIMIT :size) l
    GROUP BY u.user_id
    """
)
# Users whose stored list is current: no rating change noted since any run.
STORED_USERS = text(
    """
    SELECT u.user_id FROM user_recommendations u
    WHERE u.version = (SELECT version FROM active_model) AND cardinality(u.movie_ids) >= 10
      AND NOT EXISTS (SELECT 1 FROM user_rating_changes c WHERE c.user_id = u.user_id)
    ORDER BY hashint4extended(u.user_id, :seed), u.user_id
    LIMIT :k
    """
)


def _ms(client: httpx.Client, method: str, path: str, **kwargs: object) -> float:
    started = time.perf_counter()
    client.request(method, path, **kwargs).raise_for_status()  # type: ignore[arg-type]
    return (time.perf_counter() - started) * 1000


def measure(url: str, requests: int, rounds: int, seed: int, port: int) -> dict[str, list[float]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        baskets = {
            size: [r.basket for r in conn.execute(BASKETS, {"size": size, "seed": seed, "k": requests + 3})]
            for size in (10, 100)
        }
        users = [r.user_id for r in conn.execute(STORED_USERS, {"seed": seed, "k": BATCH * rounds + 3})]
    engine.dispose()
    for size, drawn in baskets.items():
        if len(drawn) < requests + 3:
            raise SystemExit(f"only {len(drawn)} users with {size} liked movies; need {requests + 3}")
    if len(users) < BATCH * rounds + 3:
        raise SystemExit(f"only {len(users)} users with a current stored list; need {BATCH * rounds + 3}")
    times: dict[str, list[float]] = {
        "session 10": [],
        "session 100": [],
        "session 0": [],
        "batch": [],
        "singles": [],
    }
    with (
        served(url, LOGS, ready="/readyz", port=port) as server,
        httpx.Client(base_url=server.base, timeout=60) as client,
    ):
        for basket in baskets[10][:3] + baskets[100][:3]:  # connections, prepared statements
            _ms(client, "POST", "/recommend/session?n=10", json={"movieIds": basket})
        for user in users[:3]:
            _ms(client, "GET", f"/recommend/user/{user}?n=10")
        _ms(client, "POST", "/recommend/users?n=10", json={"userIds": users[:3]})
        for size in (10, 100):
            for basket in baskets[size][3:]:
                times[f"session {size}"].append(
                    _ms(client, "POST", "/recommend/session?n=10", json={"movieIds": basket})
                )
        for _ in range(requests):
            times["session 0"].append(_ms(client, "POST", "/recommend/session?n=10", json={"movieIds": []}))
        for i in range(rounds):
            batch = users[3 + i * BATCH : 3 + (i + 1) * BATCH]
            times["batch"].append(_ms(client, "POST", "/recommend/users?n=10", json={"userIds": batch}))
            times["singles"].append(sum(_ms(client, "GET", f"/recommend/user/{u}?n=10") for u in batch))
    return times


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _section(times: dict[str, list[float]], dataset: str, command: str) -> str:
    lines = [
        "| request | requests | p50 ms | p95 ms | p50 under 20 ms |",
        "|---|---:|---:|---:|---|",
    ]
    for label, key in (
        ("`POST /recommend/session?n=10`, 10 movies", "session 10"),
        ("`POST /recommend/session?n=10`, 100 movies", "session 100"),
        ("`POST /recommend/session?n=10`, empty basket (most rated)", "session 0"),
    ):
        values = times[key]
        p50 = statistics.median(values)
        lines.append(
            f"| {label} | {len(values)} | {p50:.1f} | {_p(values, 0.95):.1f} |"
            f" {'yes' if p50 <= GOAL_P50_MS else 'no'} |"
        )
    batch, singles = statistics.median(times["batch"]), statistics.median(times["singles"])
    lines += [
        "",
        f"| {BATCH} users, `n=10`, stored lists current | rounds | median ms | per user ms | ratio |",
        "|---|---:|---:|---:|---:|",
        f"| one `POST /recommend/users` | {len(times['batch'])} | {batch:.1f} | {batch / BATCH:.2f}"
        " | 1.00x |",
        f"| {BATCH} `GET /recommend/user/{{id}}`, one after another | {len(times['singles'])} | {singles:.1f}"
        f" | {singles / BATCH:.2f} | {singles / batch:.2f}x |",
    ]
    load = os.getloadavg()[0]
    return (
        "`benchmarks/sessions.py`: `cinecluster serve`, 1 worker, one keep-alive connection on"
        " 127.0.0.1, requests one at a time after a warm-up; each session basket is a different"
        " user's latest liked movies in time order (a bare `movieIds` list); the batch rounds draw"
        f" {BATCH} users with a current stored list each. Reproduce: `{command}`.\n\n"
        f"Machine: {machine()}; run {date.today().isoformat()}, load average {load:.1f} at the end."
        f" Dataset: {dataset}.\n\n" + "\n".join(lines) + "\n\n" + NOTES
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", help="a loaded, reclustered database (only read)")
    parser.add_argument("--data", type=Path, help="load and recluster this directory into a scratch database")
    parser.add_argument(
        "--ratings", type=int, default=1_000_000, help="synthetic ratings without --url/--data"
    )
    parser.add_argument("--dataset", help="what to call the data in the table")
    parser.add_argument("--requests", type=int, default=200, help="session requests per basket kind")
    parser.add_argument("--rounds", type=int, default=7, help="rounds of 100 users")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--port", type=int, default=8791)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--no-write", action="store_true", help="print the section, leave the docs alone")
    args = parser.parse_args()

    server_url = Settings().require_database_url()
    scratch = args.url is None
    with tempfile.TemporaryDirectory(prefix="cinecluster-sessions-") as tmp:
        if args.url:
            url, dataset = args.url, args.dataset or "the given database"
        elif args.data:
            url, dataset = prepare(server_url, SCRATCH_DB, args.data), args.dataset or args.data.name
        else:
            users = max(100, round(162_000 * args.ratings / 25_000_000))
            print(f"synth: {args.ratings} ratings, {users} users, 62000 movies", flush=True)
            cli(
                server_url,
                "synth",
                "--out",
                tmp,
                "--ratings",
                str(args.ratings),
                "--users",
                str(users),
                "--movies",
                "62000",
                "--seed",
                "0",
            )
            url = prepare(server_url, SCRATCH_DB, Path(tmp))
            dataset = args.dataset or f"synthetic, {args.ratings:,} ratings, {users:,} users, 62,000 movies"
        try:
            times = measure(url, args.requests, args.rounds, args.seed, args.port)
        finally:
            if scratch and not args.keep:
                drop_database(server_url, SCRATCH_DB)
    command = ".venv/bin/python benchmarks/sessions.py" + (
        f" --ratings {args.ratings}" if not (args.url or args.data) else " --url URL"
    )
    section = _section(times, dataset, command)
    print(section)
    if not args.no_write:
        write_section("Sessions and many users", section)


if __name__ == "__main__":
    main()
