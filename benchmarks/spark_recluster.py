"""The recluster job on both engines, side by side, on the database DATABASE_URL holds.

Runs `cinecluster recluster --json` with --engine local, then with --engine spark --spark-master
MASTER (each a fresh process, so the Spark figures include the session start), and prints a
Markdown table: seconds per step (the job's own timings; the write steps from their metrics) and
the peak resident set of the driver's Python process and, for Spark, of its JVM (in local mode
the JVM also runs the executors). RSS is sampled from /proc every 0.2 s: a peak shorter than that
can be missed.

    DATABASE_URL=postgresql://... python benchmarks/spark_recluster.py --master 'local[2]'
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

SAMPLE_S = 0.2
ROWS = [
    ("features (movie aggregates)", "features_sql"),
    ("fit (MiniBatchKMeans)", "fit"),
    ("in-cluster neighbours", "neighbours"),
    ("item_neighbours (co-likes, top 50)", "item_neighbours"),
    ("item_weights (Gram + EASE solve)", "item_model"),
    ("holdout NDCG", None),
    ("user_recommendations (top 100 per user)", "user_recommendations"),
    ("write transaction, all steps", "write"),
    ("whole job", "total"),
]


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    try:
        tasks = Path(f"/proc/{pid}/task").iterdir()
        found: list[int] = []
        for task in tasks:
            text = (task / "children").read_text().split()
            found.extend(int(p) for p in text)
        return found
    except OSError:
        return []


def _name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


class PeakRss:
    """Peak RSS (MB) of the process and, separately, of its Java descendants."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.python_mb = 0.0
        self.jvm_mb = 0.0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.done.wait(SAMPLE_S):
            self.python_mb = max(self.python_mb, _rss_kb(self.pid) / 1024)
            stack, jvm = [self.pid], 0
            while stack:
                for child in _children(stack.pop()):
                    stack.append(child)
                    if _name(child) == "java":
                        jvm += _rss_kb(child)
            self.jvm_mb = max(self.jvm_mb, jvm / 1024)

    def stop(self) -> None:
        self.done.set()
        self.thread.join()


def run(engine: str, master: str) -> dict[str, Any]:
    command = [sys.executable, "-m", "cinecluster", "recluster", "--json", "--engine", engine]
    if engine == "spark":
        command += ["--spark-master", master]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = PeakRss(process.pid)
    out, err = process.communicate()
    peak.stop()
    if process.returncode:
        raise SystemExit(f"{engine} run failed:\n{err[-2000:]}")
    result = json.loads(out)
    result["wall"] = time.perf_counter() - started
    result["python_mb"], result["jvm_mb"] = peak.python_mb, peak.jvm_mb
    return result


def seconds(result: dict[str, Any], key: str | None) -> float | None:
    if key is None:
        return None
    if key in result["timings"]:
        return float(result["timings"][key])
    step = result["metrics"].get(key)
    return float(step["seconds"]) if step else None


def table(local: dict[str, Any], spark: dict[str, Any], master: str) -> str:
    def cell(value: float | None) -> str:
        return "-" if value is None else f"{value:,.1f}"

    lines = [f"| step | in process (s) | Spark {master} (s) |", "|---|---|---|"]
    for label, key in ROWS:
        lines.append(f"| {label} | {cell(seconds(local, key))} | {cell(seconds(spark, key))} |")
    lines.append(f"| command, process start included | {cell(local['wall'])} | {cell(spark['wall'])} |")
    lines.append(f"| peak RSS, driver Python (MB) | {local['python_mb']:,.0f} | {spark['python_mb']:,.0f} |")
    lines.append(f"| peak RSS, Spark JVM (MB) | - | {spark['jvm_mb']:,.0f} |")
    counts = local["data_counts"]
    return (
        f"{counts['ratings']:,} ratings, {counts['users']:,} users, {counts['movies']:,} movies; "
        f"{os.cpu_count()} CPUs\n\n" + "\n".join(lines)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--master", default="local[2]", help="Spark master URL for the Spark run")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL"):
        raise SystemExit("set DATABASE_URL to a loaded database (cinecluster load ...)")
    local = run("local", args.master)
    spark = run("spark", args.master)
    print(table(local, spark, args.master))


if __name__ == "__main__":
    main()
