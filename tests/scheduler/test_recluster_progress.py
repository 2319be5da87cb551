"""A run says where it is: each step recorded in recluster_runs as it goes, shown on a terminal by
`cinecluster recluster`; `cinecluster scheduler --check` reads the scheduler's heartbeat."""

import os
import pty
import subprocess
import sys

from sqlalchemy import create_engine, text

from scheduler import heartbeat
from scheduler.job import _place_late_arrivals, run_steps
from scheduler.steps import default_write_steps

EXPECTED_STEPS = run_steps([*default_write_steps(), _place_late_arrivals])


def test_recluster_on_a_terminal_shows_each_step_and_records_them(loaded_db_url: str) -> None:
    primary, secondary = pty.openpty()  # stderr is a terminal, stdout a pipe (as `| tee` would)
    process = subprocess.Popen(
        [sys.executable, "-m", "cinecluster", "recluster", "--k", "4"],
        env={**os.environ, "DATABASE_URL": loaded_db_url, "COLUMNS": "120"},
        stdout=subprocess.PIPE,
        stderr=secondary,
        text=True,
    )
    os.close(secondary)
    shown = b""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # EIO: the process closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    stdout, _ = process.communicate(timeout=600)
    os.close(primary)
    assert process.returncode == 0, shown.decode(errors="replace")
    assert stdout.startswith("version 1 active (run 1): 4 clusters")  # stdout as without a terminal
    display = shown.decode(errors="replace")
    count = len(EXPECTED_STEPS)
    for index, step in enumerate(EXPECTED_STEPS, start=1):
        assert f"[{index}/{count}] {step}" in display, step
    engine = create_engine(loaded_db_url)
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT status, step, step_index, step_count, progress_at >= started_at FROM recluster_runs")
        ).one()
    engine.dispose()
    assert tuple(row) == ("succeeded", "prune", count, count, True)


def test_scheduler_check_follows_the_heartbeat(run_cli, db_url: str) -> None:  # type: ignore[no-untyped-def]
    never = run_cli("scheduler", "--check")
    assert (never.exit_code, never.stderr) == (1, "error: no scheduler has ever run against this database\n")
    engine = create_engine(db_url)
    me = heartbeat.Identity(scheduler_id="box:42:1", host="box", pid=42)
    with engine.begin() as conn:
        heartbeat.beat(conn, me, interval_s=60, cron="0 3 * * mon", next_run_at=None)
    alive = run_cli("scheduler", "--check")
    assert alive.exit_code == 0
    assert alive.stdout.startswith("scheduler box:42:1 running (last seen ")
    with engine.begin() as conn:
        conn.execute(text("UPDATE scheduler_heartbeats SET last_seen_at = now() - interval '181 seconds'"))
    silent = run_cli("scheduler", "--check")
    assert silent.exit_code == 1
    assert silent.stderr.startswith("error: scheduler box:42:1 is not running (silent for over 180 s;")
    with engine.begin() as conn:
        heartbeat.beat(conn, me, interval_s=60, cron=None, next_run_at=None)
        heartbeat.stopped(conn, me)
    engine.dispose()
    stopped = run_cli("scheduler", "--check")
    assert stopped.exit_code == 1 and "is not running (stopped;" in stopped.stderr
