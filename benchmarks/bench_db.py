"""A benchmark's own database, made with the real CLI: dropped if there, created, migrated,
loaded and reclustered. Databases themselves come from cinecluster/databases.py, as the tests'."""

import os
import subprocess
import sys
import time
from pathlib import Path

from cinecluster.databases import fresh_database

CLI = [sys.executable, "-m", "cinecluster"]


def cli(url: str, *args: str) -> None:
    """`cinecluster ARGS` against `url`; a failure stops the benchmark with the command's error."""
    done = subprocess.run(
        [*CLI, *args], env={**os.environ, "DATABASE_URL": url}, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"cinecluster {' '.join(args)} failed:\n{done.stderr[-2000:]}")


def prepare(server_url: str, name: str, data: Path) -> str:
    """Database `name` made afresh from the MovieLens-format files in `data`; its URL."""
    url = fresh_database(server_url, name)
    for step in (["db", "upgrade"], ["load", str(data)], ["recluster"]):
        started = time.perf_counter()
        cli(url, *step)
        print(f"  {step[0]} {time.perf_counter() - started:.0f} s", flush=True)
    return url
