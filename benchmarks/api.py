"""REST API under load: our hot endpoints against two references in the same app, and the
team's pandas draft, driven by wrk (a load tool outside the server process).

Per dataset (ml-latest-small; synthetic 5M and 25M ratings from --bench-data, default
../bench-data relative to the working directory, made by `cinecluster synth`) in its own
database bench_api_<label> (load + recluster with the real CLI; kept between runs with
--reuse, dropped with --drop):
  * uvicorn (1 worker unless --workers) serving benchmarks/api_app.py: the real app plus
    /bench/trivial (framework ceiling), /bench/async/pk/{id} (one primary-key lookup: the
    DB-bound ceiling), and `def` twins of /movie, /recommend/movie, /recommend/user and the pk
    lookup on the sync pool running the same SQL as the served `async def` routes (sync vs async);
  * wrk, 32 connections, 2 threads, random existing ids, `--duration` s per run, `--runs`
    rounds interleaved over the endpoints; medians of req/s, p50, p99; errors = non-2xx +
    socket errors; server RSS after the runs;
  * the team's draft (benchmarks/pandas_draft_api.py: CSVs in pandas) on ml-latest-small and
    5M, same load.
Writes docs/benchmarks.md, section "API".

wrk: `apt-get install -y wrk` (Debian/Ubuntu). Heavy: serialise with the others:
    flock /tmp/cinecluster-bench.lock .venv/bin/python benchmarks/api.py
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from load import machine, write_section  # noqa: E402  (benchmarks/load.py: shared helpers)

from cinecluster import databases  # noqa: E402
from cinecluster.settings import DEFAULT_SAMPLE_DATA, Settings  # noqa: E402

BENCH_DATA = Path("../bench-data")  # relative to the working directory; --bench-data
DATASETS = {
    "ml-latest-small": DEFAULT_SAMPLE_DATA,
    "synth5m": BENCH_DATA / "synth5m",
    "synth25m": BENCH_DATA / "synth25m",
}
PANDAS_ON = {"ml-latest-small", "synth5m"}
PYTHON = sys.executable

LUA = """
local ids = {}
local prefix, suffix
init = function(args)
  for line in io.lines(args[1]) do ids[#ids + 1] = line end
  prefix, suffix = args[2], args[3] or ""
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 1000)
end
request = function()
  return wrk.format("GET", prefix .. ids[math.random(#ids)] .. suffix)
end
"""

# (row label, path prefix, id kind, suffix); "user" ids are users, the rest movies
OURS = [
    ("trivial endpoint, async (framework ceiling)", "/bench/trivial", None, ""),
    ("trivial endpoint, def", "/bench/trivial-sync", None, ""),
    ("primary-key lookup, def", "/bench/pk/", "movie", ""),
    ("primary-key lookup, async (DB-bound ceiling)", "/bench/async/pk/", "movie", ""),
    ("/movie/{id}, async (served)", "/movie/", "movie", ""),
    ("/movie/{id}, def twin", "/bench/sync/movie/", "movie", ""),
    ("/recommend/movie/{id}?n=5, async (served)", "/recommend/movie/", "movie", "?n=5"),
    ("/recommend/movie/{id}?n=5, def twin", "/bench/sync/recommend/movie/", "movie", "?n=5"),
    ("/recommend/user/{id}?n=5, async (served)", "/recommend/user/", "user", "?n=5"),
    ("/recommend/user/{id}?n=5, def twin", "/bench/sync/recommend/user/", "user", "?n=5"),
    ("/recommend/user/{id}?n=5, live SQL (rated since run)", "/bench/live/recommend/user/", "user", "?n=5"),
    ("/recommend/user/{id}?n=5&strategy=cluster, def", "/recommend/user/", "user", "?n=5&strategy=cluster"),
]
NOTES = """How to read it: "vs pk lookup" divides by the primary-key lookup from an `async def` route on the
same app in the same run (the DB-bound ceiling for one query per request; the served hot paths are
`async def`). A route pays for matching every route before it, so the references sit in front,
under one Mount: they are true ceilings, and a served route pays one prefix test for them on top
of its own routing in the app. The `def` twins run the same SQL from `def`
routes on the sync pool: sync vs async, measured; the faster (async) is served. Both
recommendation routes answer in one statement on their hot path: `/recommend/movie` reads the
movie's co-rating list, continued by its nearest in-cluster neighbours when short, both cut to the
page before movies are joined; `/recommend/user` reads the user's stored ranking
(`user_recommendations`, written by the recluster run) unless `user_rating_changes` notes a change
to the user's ratings since the run read them (one primary-key lookup; it reads none of the user's
ratings). The "live SQL" row is the same ranking as one SQL statement per request, what a user who
rated since their row was stored gets while the API process loads its model (then the model's
ranking: Freshness). The benchmark's users have not rated since the
run. wrk: `apt-get install -y wrk`."""

DRAFT = [
    ("pandas draft: /movie/{id}", "/movie/", "movie", ""),
    ("pandas draft: /recommend/movie/{id}?n=5", "/recommend/movie/", "movie", "?n=5"),
    ("pandas draft: /recommend/user/{id}?n=5", "/recommend/user/", "user", "?n=5"),
]


@dataclass
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def sh(*args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(args, capture_output=True, text=True, env={**os.environ, **(env or {})})
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def ensure_database(server: str, label: str, directory: Path, reuse: bool) -> tuple[str, float | None]:
    """bench_api_<label>: loaded and clustered with the real CLI; returns (url, setup seconds)."""
    name = f"bench_api_{label.replace('-', '_')}"
    url = databases.database_url(server, name)
    exists = databases.exists(server, name)
    env = {"DATABASE_URL": url}
    cli = [PYTHON, "-m", "cinecluster"]
    if exists and reuse:
        engine = create_engine(url)
        with engine.connect() as conn:
            ready = conn.execute(text("SELECT to_regclass('active_model') IS NOT NULL")).scalar()
            ready = ready and conn.execute(text("SELECT count(*) FROM active_model")).scalar()
        if ready:  # the code may be newer than the database: its schema, then its model
            sh(*cli, "db", "upgrade", env=env)
            with engine.connect() as conn:
                current = conn.execute(
                    text(
                        "SELECT v.ratings_snapshot IS NOT NULL FROM active_model a"
                        " JOIN model_versions v USING (version)"
                    )
                ).scalar()
            if not current:  # written before revision 0006: its stored rankings are not served
                sh(*cli, "recluster", env=env)
        engine.dispose()
        if ready:
            return url, None
    databases.fresh_database(server, name)
    started = time.perf_counter()
    sh(*cli, "db", "upgrade", env=env)
    sh(*cli, "load", str(directory), env=env)
    sh(*cli, "recluster", env=env)
    seconds = time.perf_counter() - started
    # fresh partitions have no statistics until autovacuum's next round (up to a minute); we
    # measure steady state, not the planner's first-minute guesses
    analyze = create_engine(url, isolation_level="AUTOCOMMIT")
    with analyze.connect() as conn:
        conn.execute(text("ANALYZE"))
    analyze.dispose()
    return url, seconds


def id_files(url: str, workdir: Path, sample: int = 2000) -> dict[str, Path]:
    """Random existing movie and user ids (a hash order: the same sample every run)."""
    engine = create_engine(url)
    queries = {
        "movie": "SELECT movie_id FROM movies ORDER BY hashint4(movie_id) LIMIT :n",
        "user": "SELECT DISTINCT user_id FROM ratings WHERE user_id % 97 = 3 ORDER BY 1 LIMIT :n",
    }
    files = {}
    with engine.connect() as conn:
        for kind, sql in queries.items():
            ids = list(conn.execute(text(sql), {"n": sample}).scalars())
            files[kind] = workdir / f"{kind}_ids.txt"
            files[kind].write_text("\n".join(map(str, ids)) + "\n")
    engine.dispose()
    return files


class Server:
    """uvicorn in its own process group; RSS summed over the server and its workers."""

    def __init__(self, app: str, port: int, env: dict[str, str], workers: int) -> None:
        self.port = port
        command = [PYTHON, "-m", "uvicorn", "--factory", app, "--app-dir", str(ROOT / "benchmarks")]
        command += [
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        self.process = subprocess.Popen(
            command, env={**os.environ, **env}, cwd=ROOT, start_new_session=True, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 300  # the 5M pandas draft reads its CSVs first
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(
                        f"server {app} did not start: {self.process.stderr.read()[-2000:]!r}"
                    ) from None
                time.sleep(0.2)

    def rss_mb(self) -> float:
        pids = [self.process.pid]
        children = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True)
        pids += [int(p) for p in children.stdout.split()]
        total = 0
        for pid in pids:
            status = Path(f"/proc/{pid}/status")
            if status.exists():
                line = next(x for x in status.read_text().splitlines() if x.startswith("VmRSS"))
                total += int(line.split()[1])
        return total / 1024

    def stop(self) -> None:
        os.killpg(self.process.pid, 15)
        self.process.wait(timeout=60)


def _percentile_ms(out: str, percent: int) -> float:
    match = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    if match is None:
        raise SystemExit(f"unexpected wrk output:\n{out}")
    return float(match.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]


def wrk(port: int, prefix: str, ids: Path | None, suffix: str, seconds: int, script: Path) -> Run:
    command = ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    url = f"http://127.0.0.1:{port}{prefix}"
    if ids is not None:
        command += ["-s", str(script), url, "--", str(ids), prefix, suffix]
        url = f"http://127.0.0.1:{port}/"
    else:
        command.append(url)
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50, p99 = _percentile_ms(out, 50), _percentile_ms(out, 99)
    errors = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        errors += sum(int(x) for x in m.groups())
    return Run(rps, p50, p99, errors)


def measure(server: Server, rows: list, ids: dict[str, Path], args, script: Path) -> dict[str, list[Run]]:  # type: ignore[no-untyped-def,type-arg]
    for _label, prefix, kind, suffix in rows:  # warm-up: imports, prepared statements, caches
        wrk(server.port, prefix, ids.get(kind) if kind else None, suffix, 2, script)
    runs: dict[str, list[Run]] = {label: [] for label, *_ in rows}
    for _ in range(args.runs):
        for label, prefix, kind, suffix in rows:
            runs[label].append(
                wrk(server.port, prefix, ids.get(kind) if kind else None, suffix, args.duration, script)
            )
    return runs


def median_row(label: str, runs: list[Run], reference: float | None, rss: float) -> str:
    rps = statistics.median(r.rps for r in runs)
    ratio = f"{rps / reference:.0%}" if reference else ""
    return (
        f"| {label} | {rps:,.0f} | {ratio} | {statistics.median(r.p50_ms for r in runs):.1f} | "
        f"{statistics.median(r.p99_ms for r in runs):.1f} | {sum(r.errors for r in runs)} | {rss:,.0f} |"
    )


def bench_dataset(server_url: str, label: str, directory: Path, args, workdir: Path, script: Path) -> str:  # type: ignore[no-untyped-def]
    url, setup = ensure_database(server_url, label, directory, args.reuse)
    ids = id_files(url, workdir)
    counts = (
        create_engine(url)
        .connect()
        .execute(text("SELECT (SELECT count(*) FROM movies), (SELECT sum(rating_count) FROM movie_features)"))
        .one()
    )
    env = {"DATABASE_URL": url, "CINECLUSTER_API_POOL_SIZE": str(args.pool_size)}
    server = Server("api_app:bench_app", args.port, env, args.workers)
    try:
        ours = measure(server, OURS, ids, args, script)
        rss = server.rss_mb()
    finally:
        server.stop()
    pk = statistics.median(r.rps for r in ours[OURS[3][0]])  # async: the served routes are async
    lines = [
        f"### {label}: {counts[0]:,} movies, ~{counts[1]:,} ratings"
        + (f" (load + recluster {setup:.0f} s)" if setup else ""),
        "",
        "| endpoint | req/s | vs pk lookup | p50 ms | p99 ms | errors | server RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [median_row(name, ours[name], pk, rss) for name, *_ in OURS]
    if label in PANDAS_ON and not args.no_pandas:
        draft_dir = workdir / f"draft_{label}"
        draft_dir.mkdir()
        sh(
            PYTHON,
            "-m",
            "cinecluster",
            "export-clusters",
            "-o",
            str(draft_dir / "clusters_movies.csv"),
            env={"DATABASE_URL": url},
        )
        (draft_dir / "cleaned_ratings.csv").symlink_to(directory / "ratings.csv")
        draft = Server("pandas_draft_api:draft_app", args.port + 1, {"PANDAS_DRAFT_DIR": str(draft_dir)}, 1)
        try:
            theirs = measure(draft, DRAFT, ids, args, script)
            draft_rss = draft.rss_mb()
        finally:
            draft.stop()
        lines += [median_row(name, theirs[name], pk, draft_rss) for name, *_ in DRAFT]
        for (ours_label, *_), (draft_label, *_) in zip(OURS[4:10:2], DRAFT, strict=True):
            a = statistics.median(r.rps for r in ours[ours_label])
            b = statistics.median(r.rps for r in theirs[draft_label])
            lines.append(f"\n{ours_label.split(',')[0]}: **{a / b:.1f}x** the pandas draft.")
    if args.drop:
        databases.drop_database(server_url, str(make_url(url).database))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument(
        "--bench-data",
        type=Path,
        default=BENCH_DATA,
        help="directory holding synth5m/ and synth25m/ (default: ../bench-data, from the working directory)",
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--runs", type=int, default=3, help="rounds (medians are reported)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--pool-size", type=int, default=Settings.model_fields["api_pool_size"].default)
    parser.add_argument("--port", type=int, default=8731)
    parser.add_argument("--reuse", action="store_true", help="keep an already loaded+clustered database")
    parser.add_argument("--drop", action="store_true", help="drop the benchmark databases afterwards")
    parser.add_argument("--no-pandas", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="print instead of writing docs/benchmarks.md")
    args = parser.parse_args()
    for label in ("synth5m", "synth25m"):
        DATASETS[label] = args.bench_data / label
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install -y wrk")
    server_url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    for label in args.datasets:
        if not (DATASETS[label] / "ratings.csv").exists():
            raise SystemExit(
                f"{DATASETS[label]} missing: generate it with `cinecluster synth` (see docs/benchmarks.md)"
            )
    with tempfile.TemporaryDirectory(prefix="cinecluster-api-bench-") as tmp:
        workdir = Path(tmp)
        script = workdir / "ids.lua"
        script.write_text(LUA)
        for label in args.datasets:  # written after each dataset: a long 25M run keeps the others
            print(f"== {label}", flush=True)
            section = bench_dataset(server_url, label, DATASETS[label], args, workdir, script)
            stamp = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
            section = f"{section}\n\nRun on {stamp} UTC, load average {_load()} at the end."
            print(section, flush=True)
            if not args.no_write:
                write_section("API", merge(header(args), [section]))


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def header(args: argparse.Namespace) -> str:
    return (
        f"`benchmarks/api.py`: wrk (outside the server process), 32 connections, 2 threads, "
        f"{args.duration} s per run, medians of {args.runs} interleaved rounds after a warm-up; uvicorn "
        f"with {args.workers} worker(s), pool of {args.pool_size} connections. Machine: {machine()}, "
        f"shared by wrk, uvicorn and PostgreSQL, and by whatever else runs (see the load average)."
    )


def merge(header: str, sections: list[str], doc: Path = ROOT / "docs/benchmarks.md") -> str:
    """The API section with these datasets' tables replaced, the other datasets' kept."""
    current = doc.read_text()
    start = current.find("\n## API\n")
    kept: dict[str, str] = {}
    if start >= 0:
        end = current.find("\n## ", start + 1)
        old = current[start : end if end >= 0 else len(current)]
        for block in old.split("\n### ")[1:]:
            kept[block.split(":", 1)[0]] = "### " + block.split("\n\nHow to read it:")[0].strip()
    for section in sections:
        kept[section[4:].split(":", 1)[0]] = section
    order = [label for label in DATASETS if label in kept]
    return "\n\n".join([header, *(kept[label] for label in order), NOTES])


if __name__ == "__main__":
    main()
