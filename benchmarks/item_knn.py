"""The recluster job's item-kNN step at 25M ratings, phase by phase, against its bare parts.

Phases of scheduler/item_knn.py's step, each timed (median of rounds):
  fetch    liked (user, movie, time) rows into numpy (scheduler.item_knn.fetch_liked)
  matrix   each user's latest TABLE_CAP liked movies as a users x movies CSR matrix
  top-n    co-like products block by block + cosine + top-50 (scheduler.item_knn.top_neighbours)
  write    binary COPY of the table's rows into a scratch table
and the bare references measured side by side: the SQL alone (count over the liked query,
no transfer), and the sparse products alone (every block's X_b^T X, nothing kept).
Peak RSS of the process is reported. Results go to docs/benchmarks.md ("Item-kNN step").

Run (heavy: serialise with the others):
    flock /tmp/cinecluster-bench.lock .venv/bin/python benchmarks/item_knn.py [--database URL]
Without --database it loads --data (default ../bench-data/synth25m, relative to the working
directory) into its own database `bench_item_knn`
(dropped at the end unless --keep); with --database it only reads that database's ratings.
"""

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from recluster import SYNTH, database, write_section

from scheduler.copyio import copy_columns
from scheduler.item_knn import LIKED_SQL, _blocks, fetch_liked, latest_per_user, liked_matrix, top_neighbours


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one_round(url: str) -> dict[str, float]:
    engine = create_engine(url)
    timings: dict[str, float] = {}
    with engine.connect() as conn:
        start = time.perf_counter()
        conn.execute(text(f"SELECT count(*) FROM ({LIKED_SQL}) AS p")).scalar_one()
        timings["bare SQL (count, no transfer)"] = time.perf_counter() - start
        ids = np.array(conn.execute(text("SELECT movie_id FROM movies ORDER BY movie_id")).scalars().all())
        start = time.perf_counter()
        pairs = fetch_liked(conn)
        timings["fetch pairs"] = time.perf_counter() - start
        start = time.perf_counter()
        kept = pairs.keep(latest_per_user(pairs))
        liked = liked_matrix(kept.user, np.searchsorted(ids, kept.movie), len(ids))
        timings["cap + matrix"] = time.perf_counter() - start
        by_movie = liked.T.tocsr()
        start = time.perf_counter()
        for first, last in _blocks(by_movie, liked):
            _ = by_movie[first:last] @ liked
        timings["bare sparse products"] = time.perf_counter() - start
        start = time.perf_counter()
        table = top_neighbours(liked)
        timings["top-n (products + cosine + top-50)"] = time.perf_counter() - start
        conn.rollback()  # end the reads' implicit transaction; the write gets its own
        with conn.begin():
            conn.execute(
                text(
                    "CREATE TEMP TABLE bench_item_neighbours (version int, movie_id int, rank int2,"
                    " neighbour_id int, similarity real, co_likes int) ON COMMIT DROP"
                )
            )
            start = time.perf_counter()
            copy_columns(
                conn,
                "bench_item_neighbours",
                ["version", "movie_id", "rank", "neighbour_id", "similarity", "co_likes"],
                [
                    ("int4", np.ones(len(table.movie), dtype=np.int32)),
                    ("int4", ids[table.movie]),
                    ("int2", table.rank),
                    ("int4", ids[table.neighbour]),
                    ("float4", table.similarity),
                    ("int4", table.co_likes),
                ],
            )
            timings["write (COPY rows)"] = time.perf_counter() - start
    engine.dispose()
    print(json.dumps(timings), file=sys.stderr, flush=True)
    timings["pairs"] = float(len(pairs.user))
    timings["kept"] = float(len(kept.user))
    timings["rows"] = float(len(table.movie))
    timings["movies"] = float(len(ids))
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", help="URL of a database that already holds the 25M ratings.")
    parser.add_argument("--data", type=Path, default=SYNTH)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    url = args.database or database(args.server, "bench_item_knn", args.data, reuse=args.keep)
    rounds = [one_round(url) for _ in range(args.rounds)]
    if not args.database and not args.keep:
        admin = create_engine(args.server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text('DROP DATABASE IF EXISTS "bench_item_knn" WITH (FORCE)'))
        admin.dispose()
    medians = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    phases = ("fetch pairs", "cap + matrix", "top-n (products + cosine + top-50)", "write (COPY rows)")
    step = sum(medians[k] for k in phases)
    bare = sum(
        medians[k] for k in ("bare SQL (count, no transfer)", "bare sparse products", "write (COPY rows)")
    )
    lines = [
        f"{int(medians['pairs']):,} liked pairs ({int(medians['kept']):,} after the per-user cap),"
        f" {int(medians['movies']):,} movies,"
        f" {int(medians['rows']):,} rows written; peak RSS {rss_mb():,.0f} MB",
        "",
        "| phase | median s |",
        "|---|---|",
        *(f"| {k} | {v:.1f} |" for k, v in medians.items() if k not in ("pairs", "kept", "rows", "movies")),
        f"| **step total** (fetch + cap + matrix + top-n + write) | **{step:.1f}** |",
        "",
        f"Step / its bare parts (SQL + sparse products + write): **{step / bare:.1f}x**.",
    ]
    body = "\n".join(lines)
    print(body)
    machine = (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, PostgreSQL on the same host"
    )
    if not args.no_write:
        write_section(
            "Item-kNN step", f"`benchmarks/item_knn.py`, {args.rounds} rounds, medians; {machine}.\n\n{body}"
        )


if __name__ == "__main__":
    main()
