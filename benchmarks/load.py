"""Ratings load: `cinecluster load` vs `psql \\copy` into a bare table vs pandas read_csv + to_sql.

For each dataset (ml-latest-small; synthetic 25M ratings / 62k movies) in its own benchmark
database, with the dataset's movies loaded first (ratings reference them), per round:
  1. `cinecluster load --ratings FILE` (replace mode: binary COPY, validation, de-duplication,
     primary key, movie_id index and foreign key included), in a fresh process;
  2. `psql -c "\\copy bare FROM FILE csv header"` into a fresh bare, unindexed table
     (user_id int, movie_id int, rating real, ts bigint);
  3. pandas `read_csv` + `DataFrame.to_sql` (the data team's way) into a fresh table.
Wall time of each child process and its peak RSS (/usr/bin/time). Medians over rounds; pandas
runs fewer rounds at 25M (it takes minutes). Then one more load in this process, timing its
steps (the key and index statements; the COPY with the client's conversion is the rest).
Writes docs/benchmarks.md, section "Load".

Run (heavy: serialised with the other benchmarks):
    flock /tmp/cinecluster-bench.lock .venv/bin/python benchmarks/load.py
"""

import argparse
import contextlib
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
from sqlalchemy import create_engine, text

from cinecluster import migrate
from cinecluster.databases import drop_database, fresh_database
from cinecluster.db import libpq_url
from cinecluster.settings import DEFAULT_SAMPLE_DATA, normalize_database_url
from loaders.load import load_files

ROOT = Path(__file__).resolve().parents[1]
NOTE = """How the load gets there: a plain, clean ratings file (MovieLens' own
`userId,movieId,rating,timestamp`
lines) goes straight into the emptied, unindexed `ratings` table with one binary `COPY ... FREEZE`;
numpy converts the lines on the client (epoch seconds to timestamptz, grid and range checks) in a
read-ahead thread, two blocks ahead, while the server writes the previous block on the other core.
Then the primary key and the movie_id index are built (parallel builds, as the server's
`max_parallel_maintenance_workers` allows), and the foreign key last: its validation query is then
a merge anti-join of two index-only scans (the movie_id index, and movies' key) instead of a hash
anti-join over a sequential scan of the whole heap. The planner does not choose that plan for a
table without statistics, so sequential scans and hash joins are switched off for that one
statement, and only when COPY FREEZE left every page all-visible. Equivalent query at 25M: 6.6-7.7 s
as planned, 2.3 s as a merge anti-join, 2.8 s as a hash anti-join over the index; the validation
runs through SPI, which never plans parallel (a parallel hash anti-join of the same query: 6.7 s).
The ratings change-note trigger (revision 0006) is dropped for the load and created again from
its catalog definition, not disabled: PostgreSQL 15 still fills a disabled trigger's transition
table, which at 25M was an 850 MB temp file and 21.6 s instead of 16.7 s for the server's COPY.
Any other file (CRLF, other column order, a duplicate pair, an unknown movie, a bad value) rolls
back to a savepoint and takes the staging path with reasons.

Measured at 25M and not adopted: `maintenance_work_mem` 2 or 3 GB instead of the loader's 1 GB
(`trace_sort`: with 1 GB each of the three sort participants of the movie_id index spills to two
runs and merges them, with more it sorts in memory, but spends the same CPU, about 8 s each, and
the builds were no faster); one parallel maintenance worker instead of the server's default 2
(each of the two participants then spends about 15 CPU-seconds: no gain), and none (twice as
slow); the movie_id index before the primary key (no difference); `wal_compression = lz4` for
the index builds' full-page WAL (no gain; superuser-only anyway); dropping the rating CHECK during
the COPY (1.3 s of backend CPU, but adding it back scans the table again). The movie_id index
stays the largest step: its sort compares millions of equal movie ids by heap position, while the
primary key's input arrives presorted. The server's COPY is CPU-bound (perf: tuple forming, the
binary receive functions, the CHECK, relation extension and WAL writes).

ml-latest-small: the load itself takes about 0.3-0.4 s in process (the breakdown above). Starting
Python and importing the libraries the command needs (SQLAlchemy, psycopg, numpy,
pydantic-settings, typer, rich) takes about 0.7 s alone on this machine, `python -c "import ..."`
measured beside `psql`, already more than 3x `psql \\copy` before any work is done. Importing only
the invoked command's CLI module instead of all of them measured no gain (the other command
modules import nothing the load does not already need)."""
SYNTH = Path("../bench-data/synth25m")  # relative to the working directory; --synth
PANDAS = """
import sys
import pandas as pd
from sqlalchemy import create_engine
engine = create_engine(sys.argv[1])
frame = pd.read_csv(sys.argv[2])
frame.to_sql("ratings_pandas", engine, if_exists="replace", index=False, chunksize=100_000)
engine.dispose()
"""


@dataclass
class Run:
    wall: float
    rss_mb: float


def measure(command: list[str], env: dict[str, str] | None = None) -> Run:
    """Wall time and peak RSS of one child process (which must succeed).

    The RSS comes from /usr/bin/time, a tiny parent: a child forked from this Python process
    would report this process's memory as its own peak (Linux carries it across exec).
    """
    start = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-f", "%M", *command], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{command[:3]} failed: {done.stderr.decode()[-2000:]}")
    return Run(wall, int(done.stderr.decode().split()[-1]) / 1024)


def prepare(server: str, name: str, movies: Path) -> str:
    """A fresh migrated database `name` holding the dataset's movies; returns its URL."""
    url = fresh_database(server, name)
    engine = create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    cli = [sys.executable, "-m", "cinecluster", "load", "--movies", str(movies)]
    subprocess.run(cli, env={**os.environ, "DATABASE_URL": url}, check=True, capture_output=True)
    return url


def execute(url: str, sql: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(sql))
    engine.dispose()


def bench(
    server: str, label: str, directory: Path, rounds: int, pandas_rounds: int
) -> tuple[dict[str, list[Run]], dict[str, float]]:
    ratings = directory / "ratings.csv"
    name = f"bench_load_{label}"
    url = prepare(server, name, directory / "movies.csv")
    env = {**os.environ, "DATABASE_URL": url}
    psql_url = libpq_url(url)
    runs: dict[str, list[Run]] = {"cinecluster": [], "psql": [], "pandas": []}
    try:
        for round_ in range(rounds):
            load = [sys.executable, "-m", "cinecluster", "load", "--ratings", str(ratings)]
            runs["cinecluster"].append(measure(load, env))
            execute(url, "DROP TABLE IF EXISTS bare; CHECKPOINT")
            execute(url, "CREATE TABLE bare (user_id int, movie_id int, rating real, ts bigint)")
            copy = ["psql", "-X", "-q", psql_url, "-c", f"\\copy bare FROM '{ratings}' (FORMAT csv, HEADER)"]
            runs["psql"].append(measure(copy))
            execute(url, "DROP TABLE bare; CHECKPOINT")
            if round_ < pandas_rounds:
                runs["pandas"].append(measure([sys.executable, "-c", PANDAS, url, str(ratings)]))
                execute(url, "DROP TABLE IF EXISTS ratings_pandas; CHECKPOINT")
            print(label, round_, {k: [f"{r.wall:.1f}s" for r in v] for k, v in runs.items()}, flush=True)
        steps = breakdown(url, ratings)
        print(label, "steps", {step: f"{seconds:.1f}s" for step, seconds in steps.items()}, flush=True)
    finally:
        drop_database(server, name)
    return runs, steps


# the loader's statements that build the keys, by the step they belong to
STEPS = {"primary key": "PRIMARY KEY", "movie_id index": "CREATE INDEX", "foreign key": "FOREIGN KEY"}


@contextlib.contextmanager
def timed_statements() -> Iterator[dict[str, float]]:
    """Seconds spent in the STEPS statements (the loader runs them through psycopg's execute)."""
    spent = dict.fromkeys(STEPS, 0.0)
    original = psycopg.Connection.execute

    def execute(self, query, *args, **kwargs):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        try:
            return original(self, query, *args, **kwargs)
        finally:
            for step, marker in STEPS.items():
                if marker in str(query):
                    spent[step] += time.perf_counter() - started

    psycopg.Connection.execute = execute  # type: ignore[method-assign]
    try:
        yield spent
    finally:
        psycopg.Connection.execute = original  # type: ignore[method-assign]


def breakdown(url: str, ratings: Path) -> dict[str, float]:
    """One more replace load in this process: seconds per step (COPY = all but the key builds)."""
    engine = create_engine(url)
    try:
        with timed_statements() as spent:
            started = time.perf_counter()
            load_files(engine, {"ratings": ratings})
            total = time.perf_counter() - started
    finally:
        engine.dispose()
    return {"COPY and the rest": total - sum(spent.values()), **spent, "total": total}


def steps_line(label: str, steps: dict[str, float]) -> str:
    parts = ", ".join(f"{step} {seconds:.1f}" for step, seconds in steps.items())
    return f"Where the time goes ({label}, one more load in the benchmark's process, seconds): {parts}."


def verdict(label: str, runs: dict[str, list[Run]]) -> str:
    """The issue's targets: at most 3x `psql \\copy`, and at least 20x faster than pandas."""
    ours = statistics.median(r.wall for r in runs["cinecluster"])
    reference = statistics.median(r.wall for r in runs["psql"])
    lines = [
        f"{label}: {ours / reference:.2f}x of `psql \\copy` (target at most 3x): "
        + ("**met**" if ours <= 3 * reference else "**not met**")
    ]
    if runs["pandas"]:
        faster = statistics.median(r.wall for r in runs["pandas"]) / ours
        lines.append(
            f"{faster:.1f}x faster than pandas (target at least 20x): "
            + ("**met**" if faster >= 20 else "**not met**")
        )
    return "; ".join(lines) + "."


def rows(path: Path) -> int:
    with path.open("rb") as stream:
        return sum(block.count(b"\n") for block in iter(lambda: stream.read(1 << 20), b"")) - 1


def table(label: str, ratings: int, runs: dict[str, list[Run]]) -> str:
    reference = statistics.median(r.wall for r in runs["psql"])
    lines = [
        f"**{label}** ({ratings:,} ratings)",
        "",
        "| method | runs | median wall | ratio to psql \\copy | peak RSS (loader process) |",
        "|---|---|---|---|---|",
    ]
    names = {
        "cinecluster": "`cinecluster load --ratings` (replace: validation, dedup, PK, index, FK)",
        "psql": "`psql \\copy` into a bare unindexed table (reference)",
        "pandas": "pandas `read_csv` + `to_sql` (if_exists=replace, chunksize=100k)",
    }
    for key, name in names.items():
        if not runs[key]:
            continue
        wall = statistics.median(r.wall for r in runs[key])
        rss = max(r.rss_mb for r in runs[key])
        lines.append(f"| {name} | {len(runs[key])} | {wall:.2f} s | {wall / reference:.2f}x | {rss:.0f} MB |")
    if runs["pandas"]:
        ours = statistics.median(r.wall for r in runs["cinecluster"])
        theirs = statistics.median(r.wall for r in runs["pandas"])
        lines += ["", f"pandas / cinecluster: **{theirs / ours:.1f}x** slower."]
    return "\n".join(lines)


def write_section(title: str, body: str, doc: Path = ROOT / "docs/benchmarks.md") -> None:
    """Replace (or append) the `## title` section of docs/benchmarks.md, leaving the others alone."""
    current = doc.read_text()
    start = current.find(f"\n## {title}\n")
    section = f"\n## {title}\n\n{body.strip()}\n"
    if start < 0:
        doc.write_text(current.rstrip("\n") + "\n" + section)
        return
    end = current.find("\n## ", start + 1)
    doc.write_text(current[:start] + section + (current[end:] if end >= 0 else ""))


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = int(Path("/proc/meminfo").read_text().split()[1]) // 1024 // 1024
    server = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip()
    return f"{os.cpu_count()} cores ({cpu}), {memory} GB RAM, {server}, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5, help="rounds for cinecluster and psql")
    parser.add_argument("--rounds-25m", type=int, default=3, help="rounds for cinecluster and psql at 25M")
    parser.add_argument("--pandas-rounds-25m", type=int, default=1, help="pandas rounds at 25M (slow)")
    parser.add_argument("--skip-small", action="store_true", help="only the synthetic dataset")
    parser.add_argument("--skip-25m", action="store_true", help="only ml-latest-small")
    parser.add_argument("--synth", type=Path, default=SYNTH, help="synthetic dataset directory")
    parser.add_argument("--no-write", action="store_true", help="print the table, leave the docs alone")
    args = parser.parse_args()
    server = normalize_database_url(
        os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    )
    sample = Path(os.environ.get("CINECLUSTER_SAMPLE_DATA", DEFAULT_SAMPLE_DATA))

    datasets = [] if args.skip_small else [("ml-latest-small", sample, args.rounds, args.rounds)]
    if not args.skip_25m:
        if not (args.synth / "ratings.csv").is_file():
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "cinecluster",
                    "synth",
                    "--out",
                    str(args.synth),
                    "--users",
                    "162000",
                    "--movies",
                    "62000",
                    "--ratings",
                    "25000000",
                    "--seed",
                    "25",
                ],
                check=True,
            )
        datasets.append(("synthetic 25M", args.synth, args.rounds_25m, args.pandas_rounds_25m))
    tables, verdicts, steps = [], [], []
    for label, directory, rounds, pandas_rounds in datasets:
        key = "small" if label == "ml-latest-small" else "synth"
        runs, seconds = bench(server, key, directory, rounds, pandas_rounds)
        tables.append(table(label, rows(directory / "ratings.csv"), runs))
        verdicts.append(verdict(label, runs))
        steps.append(steps_line(label, seconds))
    stamp = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    body = "\n\n".join(
        [
            "`benchmarks/load.py`: a replace-mode ratings load, side by side with `psql \\copy` of the same "
            "file into a bare unindexed table and with pandas `read_csv` + `to_sql`. Wall time of each "
            "child process (medians), peak RSS of that process (/usr/bin/time). The dataset's movies are "
            "loaded first; the file is sorted by (userId, movieId) like MovieLens' own.",
            *tables,
            "Targets (issue 2): " + " ".join(verdicts),
            "\n".join(steps),
            NOTE,
            f"Machine: {machine()}; shared with other work (heavy runs serialised by "
            f"`flock /tmp/cinecluster-bench.lock`). Run on {stamp} UTC.",
        ]
    )
    print(body)
    if not args.no_write:
        # "Load" itself is the directory load of benchmarks/recluster.py
        write_section("Load: the ratings file alone (psql, pandas)", body)


if __name__ == "__main__":
    main()
