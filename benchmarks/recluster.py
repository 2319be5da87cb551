"""The recluster and the directory load at synthetic 25M ratings, as a user runs them.

Per round, in a benchmark database of its own (--database; created, migrated and loaded once):
  1. `cinecluster load DIR` (movies, ratings, tags; replace mode) in a fresh process, and
     `psql \\copy` of the same three files into bare tables (no keys, no indexes, no checks),
     one psql process: wall time and peak RSS of each child;
  2. `cinecluster recluster --json` in a fresh process: wall time, peak RSS (the child's
     ru_maxrss) and the job's own per-step seconds.
Medians over the rounds replace the "Load" and "Recluster" sections of docs/benchmarks.md.

Run from the repository root (heavy: serialise with the other benchmarks):
    flock /tmp/cinecluster-bench.lock .venv/bin/python benchmarks/recluster.py --data ../bench-data/synth25m
If DIR has no ratings.csv, `cinecluster synth --out DIR` writes the synthetic data set first.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path("../bench-data/synth25m")  # relative to the working directory
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
BOUND_SECONDS, BOUND_MB, AIM_SECONDS = 120, 2048, 60  # issue 21
REPRODUCE = (
    "`flock /tmp/cinecluster-bench.lock .venv/bin/python benchmarks/recluster.py"
    " --data ../bench-data/synth25m`"
)
LOAD_BOUND = 2.0  # the directory load within 2x psql \copy of the same files
BARE = {  # psql \copy targets: the files' columns, plain types, nothing else
    "movies": "movie_id int, title text, genres text",
    "ratings": "user_id int, movie_id int, rating real, ts bigint",
    "tags": "user_id int, movie_id int, tag text, ts bigint",
}
STEP_NAMES = {
    "features_sql": "features (SQL aggregates)",
    "fit": "fit (MiniBatchKMeans + metrics)",
    "neighbours": "in-cluster neighbours",
    "serialize": "serialise (joblib + ONNX)",
    "counts_wait": "side counts (wait)",
    "write:co_likes": "write: item_neighbours (reads the ratings once for all steps)",
    "write:item_model": "write: item_weights (the item model: DLAE)",
    "write:successors": "write: item_successors (next-movie counts)",
    "write:holdout": "write: holdout NDCG",
    "write:user_lists": "write: user_recommendations (stored rankings)",
    "write:place_late_arrivals": "write: late arrivals",
    "activate": "activate",
    "analyze": "analyze the new partitions",
    "prune": "prune",
}


def child(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run a process: (wall seconds, its own peak RSS in MB, stdout); raises if it fails."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        process = subprocess.Popen(args, stdout=out, env=env, cwd=ROOT)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        stdout = out.read().decode()
    if process.returncode:
        raise RuntimeError(f"{' '.join(args[:4])}... exited with {process.returncode}")
    return wall, usage.ru_maxrss / 1024, stdout


def prepare(server: str, database: str, data: Path, env: dict[str, str]) -> str:
    """The benchmark database, created and migrated if absent; its URL."""
    url = make_url(server).set(database=database).render_as_string(hide_password=False)
    admin = create_engine(make_url(server).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": database}).first():
            conn.execute(text(f'CREATE DATABASE "{database}"'))
    admin.dispose()
    subprocess.run(
        [sys.executable, "-m", "cinecluster", "db", "upgrade"], env={**env, "DATABASE_URL": url}, check=True
    )
    if not (data / "ratings.csv").is_file():
        subprocess.run(
            [sys.executable, "-m", "cinecluster", "synth", "--out", str(data)], env=env, check=True
        )
    return url


def psql_copy(url: str, data: Path, env: dict[str, str]) -> tuple[float, float]:
    """psql \\copy of movies, ratings and tags into fresh bare tables (one psql process)."""
    setup = [f"DROP TABLE IF EXISTS bench_{t}; CREATE TABLE bench_{t} ({c});" for t, c in BARE.items()]
    subprocess.run(["psql", "-qX", url, "-c", " ".join(setup)], env=env, check=True)
    copies = []
    for table in BARE:
        copies += [
            "-c",
            f"\\copy bench_{table} FROM '{(data / f'{table}.csv').resolve()}' (FORMAT csv, HEADER)",
        ]
    wall, peak, _ = child(["psql", "-qX", url, *copies], env)
    drop = " ".join(f"DROP TABLE bench_{t};" for t in BARE)
    subprocess.run(["psql", "-qX", url, "-c", drop], env=env, check=True)
    return wall, peak


def bench(url: str, data: Path, rounds: int, env: dict[str, str]) -> dict:
    env = {**env, "DATABASE_URL": url}
    cli = [sys.executable, "-m", "cinecluster"]
    loads, copies, runs = [], [], []
    for i in range(rounds):
        loads.append(child([*cli, "load", str(data)], env)[:2])
        copies.append(psql_copy(url, data, env))
        wall, peak, out = child([*cli, "recluster", "--json"], env)
        result = json.loads(out)
        runs.append({"wall": wall, "peak": peak, "timings": result["timings"], "result": result})
        print(
            f"round {i + 1}: load {loads[-1][0]:.1f} s, psql {copies[-1][0]:.1f} s, recluster {wall:.1f} s"
            f" {peak:.0f} MB {result['timings']}",
            file=sys.stderr,
            flush=True,
        )
    med = statistics.median
    steps = [name for name in runs[0]["timings"] if name != "total"]
    return {
        "rounds": rounds,
        "load": (med(w for w, _ in loads), max(p for _, p in loads)),
        "psql": (med(w for w, _ in copies), max(p for _, p in copies)),
        "recluster": (med(r["wall"] for r in runs), max(r["peak"] for r in runs)),
        "walls": [r["wall"] for r in runs],
        "peaks": [r["peak"] for r in runs],
        "steps": {name: med(r["timings"].get(name, 0.0) for r in runs) for name in steps},
        "job": med(r["timings"]["total"] for r in runs),
        "counts": runs[-1]["result"]["data_counts"],
        "metrics": runs[-1]["result"]["metrics"],
    }


def machine() -> str:
    load = os.getloadavg()[0]
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, PostgreSQL on the same host, shared with other"
        f" work (1-minute load average {load:.1f} at the end); {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )


def recluster_section(r: dict, where: str) -> str:
    wall, peak = r["recluster"]
    c = r["counts"]
    lines = [
        f"`benchmarks/recluster.py`: `cinecluster recluster --json` in a fresh process on synthetic data"
        f" ({c['ratings']:,} ratings, {c['users']:,} users, {c['movies']:,} movies), {r['rounds']} rounds,"
        f" medians; seconds per step are the job's own (`timings` in its JSON); threads: the default"
        f" (`CINECLUSTER_RECLUSTER_THREADS` unset: one per core, here {len(os.sched_getaffinity(0))})."
        f" {where}.",
        "",
        "| step | seconds |",
        "|---|---:|",
    ]
    write_parts = 0.0
    for name, seconds in r["steps"].items():
        if name.startswith("write:"):
            write_parts += seconds
        label = STEP_NAMES.get(name, name)
        lines.append(f"| {'write transaction, all of it' if name == 'write' else label} | {seconds:.1f} |")
    lines += [
        f"| the job (`run_recluster`) | {r['job']:.1f} |",
        f"| **the command, process start included** | **{wall:.1f}** |",
        f"| **peak RSS of the command** | **{peak:,.0f} MB** |",
        "",
        f"Walls per round: {', '.join(f'{w:.1f}' for w in r['walls'])} s; peaks:"
        f" {', '.join(f'{p:,.0f}' for p in r['peaks'])} MB. Bounds: {BOUND_SECONDS} s and"
        f" {BOUND_MB / 1024:.0f} GB: time {'met' if wall <= BOUND_SECONDS else 'missed'}, memory"
        f" {'met' if peak <= BOUND_MB else 'missed'}; aim {AIM_SECONDS} s:"
        f" {'met' if wall <= AIM_SECONDS else 'missed'}.",
        "",
        f"Reproduce: {REPRODUCE}.",
    ]
    return "\n".join(lines)


def load_section(r: dict, where: str) -> str:
    (load, load_peak), (copy, copy_peak) = r["load"], r["psql"]
    ratio = load / copy
    return "\n".join(
        [
            "`benchmarks/recluster.py`: the directory load beside `psql \\copy` of the same three files"
            f" (movies.csv, ratings.csv, tags.csv; {r['counts']['ratings']:,} ratings), same run,"
            f" {r['rounds']} rounds, medians of each child process's wall time. {where}.",
            "",
            "| method | median wall | ratio to psql \\copy | peak RSS |",
            "|---|---:|---:|---:|",
            f"| `cinecluster load DIR` (replace: validation, keys, indexes, foreign keys, ANALYZE)"
            f" | {load:.1f} s | **{ratio:.2f}x** | {load_peak:,.0f} MB |",
            f"| `psql \\copy` into bare tables (no keys, no indexes) | {copy:.1f} s | 1.00x"
            f" | {copy_peak:,.0f} MB |",
            "",
            f"Bound: at most {LOAD_BOUND:.0f}x `psql \\copy`: {'met' if ratio <= LOAD_BOUND else 'missed'}.",
            "",
            "Where the load's time goes (the server's own statement durations, `log_min_duration_statement`,"
            " one run at 25M): the ratings' binary COPY about 11 s, their primary key about 8 s, the"
            " `movie_id` index about 12 s (a full sort: the file comes in user order), the foreign key"
            " about 2 s (a merge of two index scans), the tags about 3 s, the commit under 1 s. The"
            " keys and the index the API and the cascades need cost more than the whole bare `\\copy`,"
            " so the 2x bound is out of reach while the load builds them in its one transaction.",
            "",
            f'Reproduce: {REPRODUCE} (writes this section and "Recluster").',
        ]
    )


def write_section(title: str, body: str, doc: Path = ROOT / "docs/benchmarks.md") -> None:
    """Replace (or append) the `## title` section of docs/benchmarks.md, leaving the others alone."""
    text_ = doc.read_text()
    start = text_.find(f"\n## {title}\n")
    section = f"\n## {title}\n\n{body.strip()}\n"
    if start < 0:
        doc.write_text(text_.rstrip("\n") + "\n" + section)
        return
    end = text_.find("\n## ", start + 1)
    doc.write_text(text_[:start] + section + (text_[end:] if end >= 0 else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="movies/ratings/tags.csv directory")
    parser.add_argument("--server", default=DEFAULT_SERVER, help="any database URL of the server")
    parser.add_argument("--database", default="cinecluster_bench25m", help="benchmark database (kept)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print the tables, leave the docs alone")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    url = prepare(args.server, args.database, args.data, env)
    result = bench(url, args.data, args.rounds, env)
    where = f"Machine: {machine()}"
    sections = {"Load": load_section(result, where), "Recluster": recluster_section(result, where)}
    for title, body in sections.items():
        print(f"## {title}\n\n{body}\n")
        if not args.no_write:
            write_section(title, body)


if __name__ == "__main__":
    main()
