"""Recluster pipeline: the EASE item model (default steps) beside the co-rating ranking, same run.

Two pipelines, each a whole `run_recluster(engine, write_steps=..., trigger="cli")` in a fresh
child process on the same benchmark database (synthetic 25M ratings by default):

  baseline  [co_likes_step, co_rating_weights_step, holdout_step, user_lists_step]: the
            stored and holdout rankings rank with the co-rating cosines (item_neighbours), as
            the default did before the EASE item model;
  new       scheduler.steps.default_write_steps(): [co_likes_step, item_model_step,
            holdout_step, user_lists_step], ranking with the EASE weights (item_weights).

Per run: the wall time, each step's wall time (from the run's own step reports: core steps,
every write step, activate, analyze, prune), the seconds the steps record in their metrics,
the sub-steps of the item-kNN, item-model and stored-rankings steps (their module functions
wrapped with a timer in the child; the code that runs is the shipped code), and the child's
peak RSS (VmHWM) overall and as it stood at the end of each step. Rounds alternate the order
(baseline first, then new first, ...); medians over rounds. Once, after the first round,
the command a new user runs: `/usr/bin/time -v cinecluster recluster --json` (default
steps), its maximum RSS and wall time. The table goes to docs/benchmarks.md, the raw
numbers to --results (rewritten after every round: an interrupted run keeps its rounds).

The data (`cinecluster synth`, ~0.6 GB of CSV) and the results file live outside the
checkout: by default in ../bench-data relative to the directory you run from. The benchmark
database is created and loaded once (`cinecluster db upgrade`, `cinecluster load`) and kept;
--reuse runs on it again, --recreate drops and reloads it (only that database).

Run from the repository root (heavy, ~20-30 min at 25M; serialise with the other benchmarks):
    flock /tmp/cinecluster-bench.lock .venv/bin/python benchmarks/recluster_pipeline.py --reuse
"""

import argparse
import itertools
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, create_engine

from cinecluster import databases

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from load import write_section  # noqa: E402  (benchmarks/load.py: shared helpers)

DEFAULT_DATA = Path("../bench-data/synth25m")  # relative to the working directory
DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEFAULT_DATABASE = "cinecluster_bench25m"
TITLE = "Recluster pipeline: EASE item model vs co-rating ranking (synthetic 25M)"
PIPELINES = ("baseline", "new")

# (module, function, label): sub-steps timed inside the child (wrapped, not changed)
SUB_STEPS = (
    ("scheduler.ratings", "fetch_ratings", "co-likes: fetch all ratings (once, for every step)"),
    ("scheduler.co_likes", "top_neighbours", "co-likes: co-like top-50"),
    ("scheduler.co_likes", "write_item_table", "co-likes: write item_neighbours"),
    ("scheduler.item_model", "gram", "item_model: Gram XᵀX (sparse product)"),
    ("scheduler.item_model", "ease_weights", "item_model: inverse (EASE weights)"),
    ("scheduler.item_model", "prune", "item_model: prune to top-k"),
    ("scheduler.item_model", "write_item_table", "item_model: write item_weights"),
    ("scheduler.user_lists", "Ranker", "user_lists: per-version tables (Ranker)"),
    ("scheduler.user_lists", "copy_partition", "user_lists: write user_recommendations"),
)


# ---------------------------------------------------------------- child: one recluster run


def _status_kb(field: str) -> int:
    """This process's own /proc value (ru_maxrss would include the parent's at fork)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def co_rating_weights_step(conn: Connection, context: Any) -> None:
    """The ranking's table is the co-rating cosines, as the default was before EASE."""
    context.item_weights = context.item_similarity


def _instrument(subs: dict[str, dict[str, float]]) -> None:
    import importlib

    for module_name, function, label in SUB_STEPS:
        module = importlib.import_module(module_name)
        original = getattr(module, function)

        def timed(*args: Any, _original: Callable = original, _label: str = label, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                entry = subs.setdefault(_label, {"seconds": 0.0, "calls": 0})
                entry["seconds"] += time.perf_counter() - start
                entry["calls"] += 1
                entry["peak_mb_after"] = _status_kb("VmHWM") / 1024

        setattr(module, function, timed)


def child(pipeline: str, url: str) -> None:
    import threadpoolctl

    from scheduler.co_likes import co_likes_step
    from scheduler.job import run_recluster
    from scheduler.progress import StepUpdate
    from scheduler.quality import holdout_step
    from scheduler.steps import default_write_steps
    from scheduler.user_lists import user_lists_step

    engine = create_engine(url)
    subs: dict[str, dict[str, float]] = {}
    _instrument(subs)
    if pipeline == "baseline":
        steps = [co_likes_step, co_rating_weights_step, holdout_step, user_lists_step]
    else:
        steps = default_write_steps()
    marks: list[dict[str, Any]] = []

    def listener(update: StepUpdate) -> None:
        if update.finished or (marks and marks[-1]["step"] == update.step):
            return
        marks.append({"step": update.step, "t": time.perf_counter(), "peak_kb": _status_kb("VmHWM")})

    rss_before = _status_kb("VmRSS")
    start = time.perf_counter()
    result = run_recluster(engine, trigger="cli", keep=2, write_steps=steps, listeners=[listener])
    end = time.perf_counter()
    marks.append({"step": "end", "t": end, "peak_kb": _status_kb("VmHWM")})
    step_seconds = {m["step"]: n["t"] - m["t"] for m, n in itertools.pairwise(marks)}
    step_peak_mb = {m["step"]: n["peak_kb"] / 1024 for m, n in itertools.pairwise(marks)}
    metrics = result.metrics
    print(
        json.dumps(
            {
                "pipeline": pipeline,
                "wall": end - start,
                "version": result.version,
                "timings": result.timings,
                "steps": step_seconds,
                "step_peak_mb": step_peak_mb,
                "subs": subs,
                "metric_seconds": {
                    key: metrics[key]["seconds"]
                    for key in ("item_neighbours", "item_model", "user_recommendations")
                    if key in metrics
                },
                "item_model": metrics.get("item_model"),
                "holdout": metrics.get("holdout"),
                "user_recommendations": metrics.get("user_recommendations"),
                "rss_before_mb": rss_before / 1024,
                "rss_peak_mb": _status_kb("VmHWM") / 1024,
                "counts": result.data_counts,
                "blas": [
                    {k: p.get(k) for k in ("internal_api", "num_threads", "version")}
                    for p in threadpoolctl.threadpool_info()
                ],
            }
        )
    )


# ---------------------------------------------------------------- parent


def prepare(server: str, name: str, data: Path, reuse: bool, recreate: bool) -> str:
    """The benchmark database, created and loaded once; only `name` is ever dropped."""
    if not (data / "ratings.csv").is_file():
        print(f"generating synthetic data into {data}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "cinecluster", "synth", "--out", str(data)], check=True)
    url = databases.database_url(server, name)
    exists = databases.exists(server, name)
    if exists and not (reuse or recreate):
        sys.exit(f"database {name} exists: --reuse to run on it, --recreate to drop and reload it")
    if exists and recreate:
        databases.drop_database(server, name)
    if not exists or recreate:
        databases.create_database(server, name)
    if exists and reuse and not recreate:
        return url
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run([sys.executable, "-m", "cinecluster", "db", "upgrade"], env=env, check=True, cwd=ROOT)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "cinecluster", "load", str(data)], env=env, check=True, cwd=ROOT)
    print(f"loaded {data} into {name} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return url


def run_child(pipeline: str, url: str) -> dict:
    load = os.getloadavg()
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", pipeline, "--url", url],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    run = json.loads(out.stdout.strip().splitlines()[-1])
    run["load_before"], run["load_after"] = load, os.getloadavg()
    return run


def gnu_time(url: str) -> dict:
    """`cinecluster recluster --json` under GNU time, as a new user runs it (default steps)."""
    exe = Path(sys.executable).parent / "cinecluster"
    load = os.getloadavg()
    out = subprocess.run(
        ["/usr/bin/time", "-v", str(exe), "recluster", "--json"],
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", out.stderr)
    parts = [float(p) for p in wall.group(1).split(":")] if wall else [float("nan")]
    seconds = sum(p * 60**i for i, p in enumerate(reversed(parts)))
    result = json.loads(out.stdout)
    return {
        "wall": seconds,
        "max_rss_mb": int(rss.group(1)) / 1024 if rss else float("nan"),
        "timings": result["timings"],
        "load_before": load,
        "load_after": os.getloadavg(),
    }


def summarise(runs: list[dict]) -> dict:
    """Medians over rounds per pipeline; peak RSS the largest seen."""
    med = statistics.median
    out: dict[str, Any] = {}
    for pipeline in PIPELINES:
        mine = [r for r in runs if r["pipeline"] == pipeline]
        steps = list(mine[0]["steps"])
        subs = sorted({s for r in mine for s in r["subs"]})
        out[pipeline] = {
            "rounds": len(mine),
            "wall": med(r["wall"] for r in mine),
            "walls": [r["wall"] for r in mine],
            "steps": {s: med(r["steps"].get(s, 0.0) for r in mine) for s in steps},
            "step_peak_mb": {s: max(r["step_peak_mb"].get(s, 0.0) for r in mine) for s in steps},
            "subs": {s: med(r["subs"].get(s, {}).get("seconds", 0.0) for r in mine) for s in subs},
            "metric_seconds": {
                k: med(r["metric_seconds"][k] for r in mine) for k in mine[0]["metric_seconds"]
            },
            "rss_peak_mb": max(r["rss_peak_mb"] for r in mine),
            "rss_peaks": [r["rss_peak_mb"] for r in mine],
            "rss_median_mb": med(r["rss_peak_mb"] for r in mine),
            "rss_before_mb": med(r["rss_before_mb"] for r in mine),
            "holdout_ndcg": [r["holdout"]["ndcg_at_10"] for r in mine if r.get("holdout")],
            "item_model": mine[-1].get("item_model"),
            "user_recommendations": mine[-1].get("user_recommendations"),
            "counts": mine[-1]["counts"],
            "blas": mine[-1]["blas"],
            "load": [(r["load_before"][0], r["load_after"][0]) for r in mine],
        }
    return out


# rows of the step table: (label, step names whose seconds add up to it)
ROWS = (
    ("features (SQL)", ("features_sql",)),
    ("fit (MiniBatchKMeans + metrics)", ("fit",)),
    ("in-cluster neighbours", ("neighbours",)),
    ("serialize + counts", ("serialize", "counts_wait")),
    ("write: clusters + neighbours", ("write",)),
    ("item-kNN step (co-rating table)", ("write:co_likes",)),
    ("item model step (EASE) / co-rating as weights", ("write:item_model", "write:co_rating_weights")),
    ("holdout NDCG step", ("write:holdout",)),
    ("stored rankings step (user_lists)", ("write:user_lists",)),
    (
        "late arrivals, activate, analyze, prune",
        ("write:place_late_arrivals", "activate", "analyze", "prune"),
    ),
)


def _ratio(new: float, base: float) -> str:
    if base < 0.05 and new < 0.05:
        return "-"
    return f"{new / base:.2f}x" if base >= 0.05 else "new"


def table(summary: dict, gnu: dict | None) -> str:
    base, new = summary["baseline"], summary["new"]
    lines = [
        "| step | baseline: co-rating ranking (s) | new: EASE (s) | new / baseline"
        " | peak RSS at step end: baseline | new |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, names in ROWS:
        b = sum(base["steps"].get(n, 0.0) for n in names)
        n_ = sum(new["steps"].get(n, 0.0) for n in names)
        pb = max((base["step_peak_mb"].get(n, 0.0) for n in names), default=0.0)
        pn = max((new["step_peak_mb"].get(n, 0.0) for n in names), default=0.0)
        lines.append(f"| {label} | {b:.1f} | {n_:.1f} | {_ratio(n_, b)} | {pb:,.0f} MB | {pn:,.0f} MB |")
    lines.append(
        f"| **whole run (wall)** | **{base['wall']:.1f}** | **{new['wall']:.1f}** |"
        f" **{new['wall'] / base['wall']:.2f}x** | **{base['rss_peak_mb']:,.0f} MB** |"
        f" **{new['rss_peak_mb']:,.0f} MB** |"
    )
    lines += ["", "Inside the three heavy steps (medians, seconds; `-`: not run by that pipeline):", ""]
    lines += ["| sub-step | baseline | new |", "|---|---:|---:|"]
    for _module, _function, label in SUB_STEPS:
        b, n_ = base["subs"].get(label), new["subs"].get(label)
        if b is None and n_ is None:
            continue
        fb, fn = (f"{v:.1f}" if v is not None else "-" for v in (b, n_))
        lines.append(f"| {label} | {fb} | {fn} |")
    model, lists = new["item_model"] or {}, new["user_recommendations"] or {}
    blists = base["user_recommendations"] or {}
    lines += [
        "",
        f"Walls per round: baseline {', '.join(f'{w:.1f}' for w in base['walls'])} s;"
        f" new {', '.join(f'{w:.1f}' for w in new['walls'])} s. Peak RSS per round (VmHWM of the"
        f" run's process): baseline {', '.join(f'{m:,.0f}' for m in base['rss_peaks'])} MB;"
        f" new {', '.join(f'{m:,.0f}' for m in new['rss_peaks'])} MB (after imports:"
        f" {new['rss_before_mb']:,.0f} MB). Load average (1 min) before/after each run: baseline"
        f" {', '.join(f'{a:.1f}/{b:.1f}' for a, b in base['load'])}; new"
        f" {', '.join(f'{a:.1f}/{b:.1f}' for a, b in new['load'])}.",
        "",
        f"EASE at 25M: λ {model.get('lambda')}, the {model.get('movies'):,} most-liked movies hold"
        f" **{model.get('liked_share', 0):.1%} of the liked pairs**, {model.get('k')} weights kept"
        f" per movie ({model.get('rows', 0):,} item_weights rows). Stored rankings: baseline"
        f" {blists.get('entries', 0):,} entries for {blists.get('users', 0):,} users, new"
        f" {lists.get('entries', 0):,} for {lists.get('users', 0):,}. Holdout NDCG@10 (the job's"
        f" own sample, synthetic data): baseline {base['holdout_ndcg']}, new {new['holdout_ndcg']}.",
    ]
    if gnu:
        lines += [
            "",
            f"As a new user runs it, `/usr/bin/time -v cinecluster recluster --json` (default steps,"
            f" once): **{gnu['wall']:.1f} s wall, maximum RSS {gnu['max_rss_mb']:,.0f} MB** (load"
            f" average {gnu['load_before'][0]:.1f} before, {gnu['load_after'][0]:.1f} after).",
        ]
    return "\n".join(lines)


def verdict(summary: dict, gnu: dict | None) -> str:
    """The bound (not slower, not larger than the baseline in the same run) and the aim, in numbers."""
    base, new = summary["baseline"], summary["new"]
    slower = new["wall"] - base["wall"]
    larger = new["rss_median_mb"] - base["rss_median_mb"]
    peaks = (
        f"median peak {new['rss_median_mb']:,.0f} MB against {base['rss_median_mb']:,.0f} MB"
        f" ({larger:+,.0f} MB; per round above)"
    )
    time_part = (
        f"time **missed**: {new['wall']:.0f} s against {base['wall']:.0f} s, {slower:+.0f} s"
        f" ({new['wall'] / base['wall']:.2f}x)"
        if slower > 0
        else f"time met: {new['wall']:.0f} s against {base['wall']:.0f} s"
    )
    memory_part = f"memory **missed**: {peaks}" if larger > 0 else f"memory met: {peaks}"
    deltas = []
    for label, names in ROWS:
        delta = sum(new["steps"].get(n, 0.0) for n in names) - sum(base["steps"].get(n, 0.0) for n in names)
        if abs(delta) >= 1.0:
            deltas.append(f"{label} {delta:+.0f} s")
    aim_wall = gnu["wall"] if gnu else new["wall"]
    aim_rss = gnu["max_rss_mb"] if gnu else new["rss_peak_mb"]
    aim = "met" if aim_wall < 150 and aim_rss < 2048 else "missed"
    return (
        f"**Bound** (not slower and not larger than the co-rating pipeline in the same run): {time_part};"
        f" {memory_part}. Where the difference goes: {'; '.join(deltas) or 'nowhere above 1 s'}."
        f" **Aim** (whole run under 150 s and 2 GB): {aim}"
        f" ({aim_wall:.0f} s, {aim_rss:,.0f} MB as `cinecluster recluster` ran here)."
    )


WHY = """Why. The item-kNN step is the same code in both pipelines (it writes
item_neighbours and leaves the training liked matrix and the holdout sample that the item
model and the holdout step use). The item model step is the new work: the Gram matrix XᵀX of
the users x 3,000 liked matrix as one sparse product (the work is Σ over users of their liked
movies inside, squared: 1.7e9 here; dense blocks of users through BLAS took 16-21 s against
6.5 s) and the 3,000² inverse (~2 s). The stored-rankings step ranks every user with the
table its pipeline ranks with: EASE keeps 200 weights per movie against the co-rating
table's 50, but only for the 3,000 covered movies, which hold 74% of the liked pairs, so a
profile expands to more entries; finding each stored movie's top source reads positive
weights only (a positive sum's top source is positive), which keeps that step within ~10% of
the co-rating one. Memory: both pipelines peak in the stored-rankings step: `fetch_ratings`
(all 25M ratings packed by PostgreSQL, decoded and sorted in numpy, each intermediate freed
once copied) and the COPY of user_recommendations (16.2M list entries encoded) set the
high-water mark; the EASE solve at 3,000 movies (three 72 MB matrices) stays under the
item-kNN step's, so the item model does not set the peak. The 2 GB aim is missed by both
pipelines for the same reason: all ratings in one process for the stored rankings (the
Spark engine, docs/scaling.md, is the way past one machine's memory)."""


NOTES = """What is measured: each pipeline is a whole `run_recluster` (as `cinecluster recluster`
runs it) in its own fresh process on the same database, rounds alternating which goes first.
Step seconds are wall time between the run's own step reports (scheduler/progress.py), so
they add up to the whole run; the item-kNN, item-model and stored-rankings rows agree with
the seconds those steps store in model_versions.metrics. *Peak RSS at step end* is the
process's high-water mark (VmHWM) when the step ended: the step where it jumps is the step
that set the peak. Sub-steps are the steps' own module functions wrapped with a timer."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="MovieLens-shaped CSV directory.")
    parser.add_argument("--server", default=DEFAULT_SERVER, help="Any database URL of the server.")
    parser.add_argument("--database", default=DEFAULT_DATABASE, help="Benchmark database (kept).")
    parser.add_argument("--results", type=Path, help="Raw JSON (default: next to --data).")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--reuse", action="store_true", help="Run on the already loaded database.")
    parser.add_argument("--recreate", action="store_true", help="Drop and reload the benchmark database.")
    parser.add_argument("--no-gnu-time", action="store_true", help="Skip the `cinecluster recluster` run.")
    parser.add_argument("--no-write", action="store_true", help="Print the table only.")
    parser.add_argument("--from-results", action="store_true", help="Table from --results, no runs.")
    parser.add_argument("--child", choices=PIPELINES, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.url)
        return
    results = args.results or args.data.parent / "recluster-pipeline-results.json"
    if args.from_results:
        stored = json.loads(results.read_text())
    else:
        url = prepare(args.server, args.database, args.data, args.reuse, args.recreate)
        started = datetime.now(UTC)
        stored: dict[str, Any] = {
            "started": started.isoformat(timespec="minutes"),
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores,"
            " PostgreSQL on the same host",
            "rounds": 0,
            "runs": [],
            "gnu_time": None,
        }
        results.parent.mkdir(parents=True, exist_ok=True)
        for i in range(args.rounds):
            order = PIPELINES if i % 2 == 0 else PIPELINES[::-1]
            for pipeline in order:
                run = run_child(pipeline, url)
                stored["runs"].append(run)
                print(
                    f"round {i + 1} {pipeline}: {run['wall']:.1f} s, peak {run['rss_peak_mb']:,.0f} MB,"
                    f" steps {json.dumps({k: round(v, 1) for k, v in run['steps'].items()})}",
                    file=sys.stderr,
                )
            stored["rounds"] = i + 1
            if i == 0 and not args.no_gnu_time and shutil.which("/usr/bin/time"):
                gnu = stored["gnu_time"] = gnu_time(url)  # once, after the first round
                print(
                    f"cinecluster recluster: {gnu['wall']:.1f} s, max RSS {gnu['max_rss_mb']:,.0f} MB",
                    file=sys.stderr,
                )
            stored["finished"] = datetime.now(UTC).isoformat(timespec="minutes")
            results.write_text(json.dumps(stored, indent=2))  # a partial run leaves its rounds
    summary = summarise(stored["runs"])
    counts = summary["new"]["counts"]
    rounds = stored["rounds"]
    head = (
        "Reproduce (from the repository root; the first run generates the data with `cinecluster"
        " synth` if the directory is empty, and creates and loads the database"
        " `cinecluster_bench25m`):\n\n    flock /tmp/cinecluster-bench.lock .venv/bin/python"
        " benchmarks/recluster_pipeline.py --data ../bench-data/synth25m --reuse\n\n"
        f"{rounds} round{'s' if rounds > 1 else ''}"
        f" ({'medians' if rounds > 1 else 'one run each, no median'}),"
        f" {stored['started']} to {stored['finished']}; {stored['machine']}, shared with other"
        " engineers' tests and builds (load averages below: absolute seconds are inflated, compare"
        f" within the table). Synthetic data: {counts['ratings']:,} ratings, {counts['movies']:,}"
        f" movies, {counts['users']:,} users."
    )
    gnu = stored["gnu_time"]
    body = "\n\n".join([head, table(summary, gnu), verdict(summary, gnu), WHY, NOTES])
    print(body)
    if not args.no_write:
        write_section(TITLE, body)


if __name__ == "__main__":
    main()
