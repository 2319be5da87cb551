"""Where a request's time goes: Python CPU in the server process vs waiting for PostgreSQL.

The wrk table (benchmarks/api.py) says how fast each route is under load; this says why. Each
route of the benchmark app (benchmarks/api_app.py: the real app plus the references) is called
one request at a time straight through ASGI, in this process, on uvloop as under uvicorn: no
HTTP parsing, no socket, no load tool, no concurrency. Per request, `time.process_time()` is the
app's own CPU (routing, parameters, the handler, psycopg, the response) and wall minus CPU is
the time spent waiting for PostgreSQL (the statement, plus the server's scheduling). Medians of
interleaved rounds over the same random ids. Uses an API benchmark database made by
benchmarks/api.py (bench_api_<label>). Writes docs/benchmarks.md, section "API cost per request".

    flock /tmp/cinecluster-bench.lock .venv/bin/python benchmarks/api_cost.py --datasets synth25m
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import uvloop  # what uvicorn runs the app on (uvicorn[standard])
from sqlalchemy import create_engine, make_url, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api import DATASETS
from load import machine, write_section

NOTES = """How to read it: under wrk (section API) the single uvicorn process is the bottleneck (about
95% of one core during a /recommend/user run; PostgreSQL's backends share the other core with wrk),
so the Python CPU column decides the req/s ratio more than the waiting column. What a
recommendation route spends in Python beyond the primary-key lookup, measured piece by piece:
FastAPI's handling of its five validated query parameters (n, offset, genre, strategy, seed),
about 33 µs (`request_params_to_args`, in isolation); a statement with four parameters that
returns five rows of seven columns instead of one value, about 40 µs; the items and their JSON,
about 15 µs. Removed in this revision, each measured in process before it went in: the pools
resolved as dependencies (about 30 µs), FastAPI validating and serialising the route's own items
against the response model (about 30 µs), a frozen dataclass per item (about 15 µs), the
benchmark's own reference routes matched before every served route (about 50 µs, now one Mount),
and unnesting the whole stored list to cut a page from it (15% of the statement). In PostgreSQL
the routes read one stored row or two neighbour lists plus fifteen index lookups, against one."""

ROUTES = [  # (label, path template); {user} / {movie}: a random existing id
    ("trivial endpoint (framework ceiling)", "/bench/trivial"),
    ("primary-key lookup (DB-bound ceiling)", "/bench/async/pk/{movie}"),
    ("/movie/{id}", "/movie/{movie}"),
    ("/recommend/movie/{id}?n=5", "/recommend/movie/{movie}?n=5"),
    ("/recommend/user/{id}?n=5", "/recommend/user/{user}?n=5"),
]


async def _call(app, path: str) -> int:  # type: ignore[no-untyped-def]
    route, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": route,
        "raw_path": route.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"bench")],
        "client": ("127.0.0.1", 1),
        "server": ("bench", 80),
        "state": {},
    }
    status = 0

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])  # type: ignore[call-overload]

    await app(scope, receive, send)
    return status


async def _measure(url: str, requests: int, rounds: int) -> dict[str, tuple[float, float]]:
    from api_app import bench_app

    from cinecluster.settings import get_settings

    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()  # the app reads DATABASE_URL when it is created

    engine = create_engine(url)
    with engine.connect() as conn:
        movies = conn.execute(text("SELECT movie_id FROM movies ORDER BY random() LIMIT :n"), {"n": requests})
        users = conn.execute(
            text("SELECT user_id FROM user_recommendations ORDER BY random() LIMIT :n"), {"n": requests}
        )
        ids = {"movie": movies.scalars().all(), "user": users.scalars().all()}
    engine.dispose()
    app = bench_app()
    samples: dict[str, list[tuple[float, float]]] = {label: [] for label, _ in ROUTES}
    async with app.router.lifespan_context(app):
        for round_ in range(rounds + 1):  # round 0 warms up: prepared statements, caches
            for label, template in ROUTES:
                paths = [
                    template.format(
                        movie=ids["movie"][i % len(ids["movie"])], user=ids["user"][i % len(ids["user"])]
                    )
                    for i in range(requests)
                ]
                wall, cpu = time.perf_counter(), time.process_time()
                for path in paths:
                    if (status := await _call(app, path)) != 200:
                        raise SystemExit(f"{path}: HTTP {status}")
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                if round_:
                    samples[label].append((cpu / requests * 1e6, (wall - cpu) / requests * 1e6))
    return {
        label: (statistics.median(c for c, _ in runs), statistics.median(w for _, w in runs))
        for label, runs in samples.items()
    }


def table(label: str, costs: dict[str, tuple[float, float]]) -> str:
    pk = sum(costs[ROUTES[1][0]])
    lines = [
        f"### {label}",
        "",
        "| route | Python CPU µs | waiting for PostgreSQL µs | total µs | vs pk lookup (total) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, (cpu, wait) in costs.items():
        lines.append(f"| {name} | {cpu:,.0f} | {wait:,.0f} | {cpu + wait:,.0f} | {(cpu + wait) / pk:.2f}x |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", nargs="+", choices=list(DATASETS), default=["synth25m"])
    parser.add_argument("--requests", type=int, default=1000, help="requests per route per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    server = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    tables = []
    for label in args.datasets:
        url = make_url(server).set(database=f"bench_api_{label.replace('-', '_')}")
        section = table(
            label,
            uvloop.run(_measure(url.render_as_string(hide_password=False), args.requests, args.rounds)),
        )
        print(section, flush=True)
        tables.append(section)
    stamp = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    body = "\n\n".join(
        [
            f"`benchmarks/api_cost.py`: each route called {args.requests} times per round, one request at a"
            f" time, straight through ASGI in the benchmark's process (no HTTP, no load tool); medians of"
            f" {args.rounds} interleaved rounds. Python CPU is the process's own CPU time per request;"
            " waiting is wall minus CPU (the statement in PostgreSQL and the server's scheduling). The"
            " databases are benchmarks/api.py's.",
            *tables,
            NOTES,
            f"Machine: {machine()}. Run on {stamp} UTC.",
        ]
    )
    if not args.no_write:
        write_section("API cost per request", body)


if __name__ == "__main__":
    main()
