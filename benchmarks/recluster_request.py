"""A recluster requested over HTTP at scale: the run happens in the scheduler process, the API's
memory stays flat. Writes the section "Recluster requested over HTTP" of docs/benchmarks.md.

Starts `cinecluster serve` (one worker, the default 5 s statement timeout) and `cinecluster
scheduler` on a database that already holds data and a model, POSTs /admin/recluster, then
samples once a second until the run ends: both processes' resident set (VmRSS; the scheduler's
high-water mark VmHWM), the run's step (GET /admin/runs/{id}) and one GET /recommend/user
(the API keeps serving). The database is left as it was plus one version.

Run (heavy: serialise with the others):
    flock /tmp/cinecluster-bench.lock .venv/bin/python benchmarks/recluster_request.py --database URL
where URL holds e.g. synthetic 25M ratings (`cinecluster synth`, `cinecluster load`, `cinecluster recluster`).
"""

import argparse
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from recluster import write_section
from serve_process import served  # `cinecluster serve`, as the API tests start it

TOKEN = "bench-token"


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def wait_for(condition, what: str, deadline_s: float = 120):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            value = condition()
        except httpx.TransportError:
            value = None
        if value:
            return value
        time.sleep(0.5)
    raise SystemExit(f"timed out waiting for {what}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True, help="URL of a loaded database with an active model")
    parser.add_argument("--label", default="synthetic 25M ratings", help="Data set name for the table.")
    parser.add_argument("--no-doc", action="store_true", help="Print only; leave docs/benchmarks.md alone.")
    args = parser.parse_args()

    engine = create_engine(args.database.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        ratings = conn.execute(text("SELECT count(*) FROM ratings")).scalar_one()
        before = conn.execute(text("SELECT version FROM active_model")).scalar_one()
    env = {**os.environ, "DATABASE_URL": args.database, "CINECLUSTER_ADMIN_TOKEN": TOKEN}
    logs = Path(os.environ.get("TMPDIR", "/tmp"))
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "cinecluster", "scheduler"],
        env=env,
        stderr=(logs / "bench-scheduler.log").open("w"),
    )
    headers = {"Authorization": f"Bearer {TOKEN}"}
    samples: list[tuple[float, int, int, str, int]] = []
    try:
        with served(args.database, logs, token=TOKEN, ready="/readyz") as api:
            base = api.base
            wait_for(
                lambda: httpx.get(f"{base}/admin/scheduler", headers=headers, timeout=5).json()["running"],
                "the scheduler's heartbeat",
            )
            with engine.connect() as conn:
                user_id = conn.execute(text("SELECT min(user_id) FROM ratings")).scalar_one()
            httpx.get(f"{base}/recommend/user/{user_id}", timeout=10)  # warm: the API's steady state
            rss_idle = status_kb(api.process.pid, "VmRSS")
            started = time.monotonic()
            answer = httpx.post(f"{base}/admin/recluster", headers=headers, timeout=10)
            answered_ms = (time.monotonic() - started) * 1000
            assert answer.status_code == 202, answer.text
            run_id = answer.json()["runId"]
            while True:
                run = httpx.get(f"{base}/admin/runs/{run_id}", headers=headers, timeout=30).json()
                user_status = httpx.get(f"{base}/recommend/user/{user_id}", timeout=30).status_code
                samples.append(
                    (
                        time.monotonic() - started,
                        status_kb(api.process.pid, "VmRSS"),
                        status_kb(scheduler.pid, "VmRSS"),
                        f"{run['status']} {run['step'] or ''}",
                        user_status,
                    )
                )
                if run["status"] in ("succeeded", "failed"):
                    break
                time.sleep(1)  # the sampling period
            scheduler_peak = status_kb(scheduler.pid, "VmHWM")
            api_peak = status_kb(api.process.pid, "VmHWM")
    finally:
        scheduler.send_signal(signal.SIGTERM)
        scheduler.wait(timeout=600)
    with engine.connect() as conn:
        after = conn.execute(text("SELECT version FROM active_model")).scalar_one()
    engine.dispose()

    steps: list[str] = []
    for sample in samples:
        if not steps or steps[-1] != sample[3]:
            steps.append(sample[3])
    api_rss = [s[1] for s in samples]
    answers = [s[4] for s in samples]
    mb = 1024
    during = (
        f"{min(api_rss) / mb:.0f} / {max(api_rss) / mb:.0f} / {api_rss[-1] / mb:.0f} MB"
        f" (high-water mark {api_peak / mb:.0f} MB)"
    )
    body = f"""`POST /admin/recluster` on {args.label} ({ratings:,} ratings): `cinecluster serve` (one worker,
the API's default 5 s statement timeout) records the request, `cinecluster scheduler` runs it.
Sampled once a second by `benchmarks/recluster_request.py` (run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC,
on 2 cores shared with other work).

| | |
|---|---|
| run | {run["status"]}, version {before} -> {after}, {samples[-1][0]:.0f} s from request to end |
| API answer to the POST | {answer.status_code} in {answered_ms:.0f} ms |
| API resident set, idle before the request | {rss_idle / mb:.0f} MB |
| API resident set during the run: min / max / at the end | {during} |
| scheduler process peak resident set (VmHWM) | {scheduler_peak / mb:.0f} MB |
| `GET /recommend/user` during the run | {answers.count(200)} of {len(answers)} answered 200 |
| steps seen by `GET /admin/runs/{{id}}` | {", ".join(s.split(" ", 1)[1] or s for s in steps)} |
"""
    print(body)
    if not args.no_doc:
        write_section("Recluster requested over HTTP", body)


if __name__ == "__main__":
    main()
