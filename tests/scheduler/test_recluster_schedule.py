"""The schedule really fires the job, keeps its state in PostgreSQL, and stops on SIGTERM."""

import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.events import JobExecutionEvent
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.triggers.interval import IntervalTrigger
from recluster_factories import make_catalogue
from sqlalchemy import Engine, select, text

from cinecluster.tables import recluster_runs
from scheduler.job import run_recluster
from scheduler.schedule import INITIAL_JOB_ID, JOB_ID, build_scheduler, cron_trigger

WAIT = 60


class Fired:
    """Listener: records executed jobs, wakes the test when `job_id` has run."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        self.done = threading.Event()
        self.events: list[JobExecutionEvent] = []

    def __call__(self, event: JobExecutionEvent) -> None:
        self.events.append(event)
        if event.job_id == self.job_id:
            self.done.set()


def _runs(engine: Engine) -> list[tuple[str, str, int | None]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(recluster_runs.c.trigger, recluster_runs.c.status, recluster_runs.c.version).order_by(
                recluster_runs.c.run_id
            )
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


@pytest.fixture
def small(engine: Engine) -> Engine:
    make_catalogue(engine)
    return engine


def test_the_scheduler_fires_the_recluster_job(small: Engine) -> None:
    run_recluster(small, k=10)  # a model exists: no start-up run
    fired = Fired(JOB_ID)
    scheduler = build_scheduler(small, IntervalTrigger(seconds=1), blocking=False, on_job_done=fired)
    scheduler.start()
    try:
        assert fired.done.wait(WAIT), "the job never ran"
    finally:
        scheduler.shutdown(wait=True)
    assert fired.events[0].exception is None
    assert fired.events[0].retval == 2
    assert _runs(small)[:2] == [("cli", "succeeded", 1), ("cron", "succeeded", 2)]


def test_a_first_run_happens_at_start_up_when_no_model_exists(small: Engine) -> None:
    fired = Fired(INITIAL_JOB_ID)
    scheduler = build_scheduler(small, cron_trigger("0 3 * * mon"), blocking=False, on_job_done=fired)
    scheduler.start()
    try:
        assert fired.done.wait(WAIT)
    finally:
        scheduler.shutdown(wait=True)
    assert _runs(small) == [("cron", "succeeded", 1)]


def test_the_start_up_run_on_an_empty_database_is_a_one_line_warning(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """`docker compose up` on a fresh volume starts the scheduler before anything is loaded."""
    fired = Fired(INITIAL_JOB_ID)
    scheduler = build_scheduler(engine, cron_trigger("0 3 * * mon"), blocking=False, on_job_done=fired)
    with caplog.at_level("WARNING"):
        scheduler.start()
        try:
            assert fired.done.wait(WAIT)
        finally:
            scheduler.shutdown(wait=True)
    assert fired.events[0].exception is None
    assert "skipped: cannot make 10 clusters from 0 movies" in caplog.text
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    assert _runs(engine) == [("cron", "failed", None)]


def test_the_job_store_survives_a_restart_and_a_missed_run_fires_once(small: Engine) -> None:
    run_recluster(small, k=10)
    weekly = cron_trigger("0 3 * * mon")
    first = build_scheduler(small, weekly, blocking=False)
    first.start(paused=True)  # stores the job
    first.shutdown()
    # the process was down when the job was due: its stored fire time is now in the past
    missed = datetime.now(UTC) - timedelta(minutes=5)
    store = SQLAlchemyJobStore(engine=small, tablename="apscheduler_jobs")
    store.start(first, "default")
    job = store.lookup_job(JOB_ID)
    job._modify(next_run_time=missed)
    store.update_job(job)
    with small.connect() as conn:
        stored = conn.execute(text("SELECT id, next_run_time FROM apscheduler_jobs")).all()
    assert [(r.id, round(r.next_run_time)) for r in stored] == [(JOB_ID, round(missed.timestamp()))]

    fired = Fired(JOB_ID)
    second = build_scheduler(small, cron_trigger("0 3 * * mon"), blocking=False, on_job_done=fired)
    second.start()
    try:
        assert fired.done.wait(WAIT), "the missed run did not fire after the restart"
        job = second.get_job(JOB_ID)
        assert job is not None and job.next_run_time > datetime.now(UTC)  # next Monday, not again now
    finally:
        second.shutdown(wait=True)
    assert _runs(small) == [("cli", "succeeded", 1), ("cron", "succeeded", 2)]
    assert len(fired.events) == 1  # coalesced: one run for the missed fire time


def test_a_changed_cron_replaces_the_stored_job(small: Engine) -> None:
    run_recluster(small, k=10)
    build_scheduler(small, cron_trigger("0 3 * * mon"), blocking=False).start(paused=True)
    later = build_scheduler(small, cron_trigger("30 4 * * sun"), blocking=False)
    later.start(paused=True)
    job = later.get_job(JOB_ID)
    later.shutdown()
    assert job is not None
    assert (job.next_run_time.weekday(), job.next_run_time.hour, job.next_run_time.minute) == (6, 4, 30)


@pytest.fixture
def scheduler_process(clustered_db_url: str) -> Iterator[tuple[subprocess.Popen[str], queue.Queue[str]]]:
    env = {**os.environ, "DATABASE_URL": clustered_db_url, "CINECLUSTER_RECLUSTER_CRON": "0 3 * * mon"}
    process = subprocess.Popen(
        [sys.executable, "-m", "cinecluster", "scheduler"],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    yield process, lines
    if process.poll() is None:
        process.kill()
        process.wait()


def _wait_for(lines: queue.Queue[str], needle: str) -> list[str]:
    seen = []
    while True:
        line = lines.get(timeout=WAIT)
        seen.append(line)
        if needle in line:
            return seen


def test_the_scheduler_process_stops_cleanly_on_sigterm(scheduler_process) -> None:  # type: ignore[no-untyped-def]
    process, lines = scheduler_process
    _wait_for(lines, "Scheduler started")  # APScheduler's own line: the loop is running
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=WAIT) == 0
    tail = _wait_for(lines, "scheduler stopped")
    assert any("signal SIGTERM: shutting down" in line for line in tail)


def test_a_bad_cron_is_a_one_line_error(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("scheduler", env={"CINECLUSTER_RECLUSTER_CRON": "every monday"})
    assert result.exit_code == 2
    assert result.stderr.startswith("error: CINECLUSTER_RECLUSTER_CRON 'every monday' is not a crontab")
    assert result.stderr.count("\n") == 1
