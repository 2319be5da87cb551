"""`cinecluster scheduler`: APScheduler 3 in its own process, the job store in PostgreSQL,
plus the runs requested over HTTP and a heartbeat.

The cron trigger is declared here, beside the job. The job store (table apscheduler_jobs,
owned by revision 0003) keeps the next fire time across restarts: a run missed while the
process was down fires once at start-up (coalesced) if it is less than MISFIRE_GRACE late.

Beside the cron, `RequestWatcher` LISTENs for the API's NOTIFY (scheduler.runs.CHANNEL) on a
dedicated connection and also polls, so a request made while it was down or disconnected is
picked up too; `HeartbeatWriter` refreshes the process's row in scheduler_heartbeats. Both are
threads of `SchedulerService`, which the CLI runs in the foreground and the demo in the background.
"""

import contextlib
import logging
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.job import Job
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Engine

from cinecluster.activation import active_version
from cinecluster.errors import UserError, first_line
from scheduler import heartbeat, runs
from scheduler.job import run_recluster, run_requested
from scheduler.notify import NotifiedWorker
from scheduler.progress import StepUpdate
from scheduler.refresh import RatingsRefresher

log = logging.getLogger(__name__)

JOB_ID = "recluster"
INITIAL_JOB_ID = "recluster-initial"
MISFIRE_GRACE = 6 * 3600  # seconds: a weekly run up to 6 h late still runs (once)
_engine: Engine | None = None  # the scheduler process's engine, used by the job function


def cron_trigger(expression: str) -> CronTrigger:
    try:
        return CronTrigger.from_crontab(expression, timezone=UTC)
    except ValueError as error:
        raise UserError(f"CINECLUSTER_RECLUSTER_CRON {expression!r} is not a crontab: {error}") from None


def recluster_job() -> int | None:
    """The scheduled job (stored by reference, so it takes no arguments): one run, trigger=cron."""
    if _engine is None:
        raise RuntimeError("the scheduler's engine is not set")
    try:
        result = run_recluster(_engine, trigger="cron")
    except UserError as error:  # a run in progress, nothing loaded yet...: one line, no traceback
        log.warning("skipped: %s", error)
        return None
    log.info("recluster run %s wrote version %s", result.run_id, result.version)
    return result.version


def build_scheduler(
    engine: Engine,
    trigger: BaseTrigger,
    *,
    blocking: bool = True,
    on_job_done: Callable[[JobExecutionEvent], Any] | None = None,
) -> BaseScheduler:
    """A scheduler holding the recluster job under `trigger`; tests pass blocking=False."""
    global _engine
    _engine = engine
    cls = BlockingScheduler if blocking else BackgroundScheduler
    scheduler = cls(
        jobstores={
            "default": SQLAlchemyJobStore(engine=engine, tablename="apscheduler_jobs"),
            "memory": MemoryJobStore(),
        },
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE},
        timezone=UTC,
    )
    if on_job_done is not None:
        scheduler.add_listener(on_job_done, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    _schedule(scheduler, engine, trigger)
    if _needs_first_run(engine):
        scheduler.add_job(
            recluster_job,
            "date",
            run_date=datetime.now(UTC),
            id=INITIAL_JOB_ID,
            jobstore="memory",
            replace_existing=True,
        )
    return scheduler


def _schedule(scheduler: BaseScheduler, engine: Engine, trigger: BaseTrigger) -> None:
    """Keep a stored job with the same trigger (its pending or missed fire time survives);
    replace it when the configured trigger changed."""
    store = SQLAlchemyJobStore(engine=engine, tablename="apscheduler_jobs")
    store.start(scheduler, "default")  # creates nothing: the migration owns the table
    stored = store.lookup_job(JOB_ID)
    store.shutdown()
    if stored is not None and str(stored.trigger) == str(trigger):
        log.info("keeping stored job %s, next run %s", JOB_ID, stored.next_run_time)
        return
    scheduler.add_job(
        "scheduler.schedule:recluster_job",
        trigger,
        id=JOB_ID,
        name="weekly recluster",
        replace_existing=True,
    )


def _needs_first_run(engine: Engine) -> bool:
    with engine.connect() as conn:
        return active_version(conn) is None


def _log_step(update: StepUpdate) -> None:
    if update.fraction is None and not update.finished:
        log.info("run %s: step %s/%s %s", update.run_id, update.index, update.count, update.step)


class RequestWatcher(NotifiedWorker):
    """Runs requested runs: woken by NOTIFY on a connection of its own, polling as the fallback
    (a lost notification, a request made while no scheduler ran, a lock busy with a CLI run)."""

    def __init__(self, engine: Engine, poll_s: float) -> None:
        super().__init__(
            engine, runs.CHANNEL, poll_s, label="request watcher", listen_as="cinecluster-scheduler-listen"
        )

    def work(self, payloads: list[str] | None) -> None:
        self._serve_requests()  # whatever woke it: the requests are in the database

    def _serve_requests(self) -> None:
        while not self.stopping.is_set():
            result = run_requested(
                self.engine,
                listeners=[_log_step],
                on_claimed=lambda lease: log.info(
                    "claimed requested run %s (options %s)", lease.run_id, lease.options
                ),
            )
            if result is None:
                return
            log.info("requested run %s wrote version %s", result.run_id, result.version)


class HeartbeatWriter(threading.Thread):
    """Every interval_s: this process's row in scheduler_heartbeats, with the next cron run."""

    def __init__(self, engine: Engine, scheduler: BaseScheduler, cron: str | None, interval_s: float) -> None:
        super().__init__(name="scheduler-heartbeat", daemon=True)
        self.engine = engine
        self.scheduler = scheduler
        self.cron = cron
        self.interval_s = interval_s
        self.me = heartbeat.Identity.of_this_process()
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            self.beat()
            self.stopping.wait(self.interval_s)

    def beat(self) -> None:
        try:
            job = self.scheduler.get_job(JOB_ID)
            with self.engine.begin() as conn:
                heartbeat.beat(
                    conn,
                    self.me,
                    interval_s=self.interval_s,
                    cron=self.cron,
                    next_run_at=_next_run(job),
                )
        except Exception as error:  # the database may be away; the next beat tries again
            log.warning("heartbeat not written: %s", first_line(error))

    def stop(self) -> None:
        self.stopping.set()
        with contextlib.suppress(Exception), self.engine.begin() as conn:
            heartbeat.stopped(conn, self.me)


def _next_run(job: Job | None) -> datetime | None:
    """The job's next fire time; a job not yet scheduled (the first beat comes before the
    scheduler has started) has no next_run_time attribute yet: its trigger's is the same."""
    if job is None:
        return None
    if hasattr(job, "next_run_time"):
        return job.next_run_time
    return job.trigger.get_next_fire_time(None, datetime.now(UTC))


class SchedulerService:
    """The cron schedule, the request watcher, the refresh of just-rated users and the heartbeat
    of one process."""

    def __init__(self, engine: Engine, cron: str, *, blocking: bool) -> None:
        from cinecluster.settings import get_settings

        settings = get_settings()
        self.engine = engine
        self.cron = cron
        self.scheduler = build_scheduler(engine, cron_trigger(cron), blocking=blocking)
        self.watcher = RequestWatcher(engine, settings.scheduler_poll_s)
        self.refresher = RatingsRefresher(engine, settings.scheduler_poll_s, settings.refresh_batch_users)
        self.heartbeat = HeartbeatWriter(engine, self.scheduler, cron, settings.scheduler_heartbeat_s)

    def recover(self) -> None:
        """A run left 'running' by a killed scheduler is marked failed (the active version was
        never touched: a run's rows go live only in its last, tiny transaction)."""
        with self.engine.begin() as conn:
            stale = runs.mark_stale_runs(conn)
            heartbeat.forget_old(conn)
        for run_id in stale:
            log.warning("run %s was left running by a process that died; marked failed", run_id)

    def start_threads(self) -> None:
        self.recover()
        self.watcher.start()
        self.refresher.start()
        self.heartbeat.start()

    def stop(self, wait: bool = True) -> None:
        """Stop taking requests; with wait, let a run in progress finish first."""
        self.watcher.stop()
        self.refresher.stop()
        with contextlib.suppress(SchedulerNotRunningError):
            self.scheduler.shutdown(wait=False)
        if wait and self.watcher.is_alive():
            self.watcher.join()
        self.heartbeat.stop()

    def shutdown(self, wait: bool = False) -> None:  # the demo's call, like APScheduler's
        self.stop(wait=wait)


def run_scheduler(engine: Engine, cron: str) -> None:
    """Block until SIGTERM/SIGINT; a run in progress is allowed to finish first."""
    service = SchedulerService(engine, cron, blocking=True)
    scheduler = service.scheduler
    stopping = threading.Event()

    def leave_loop() -> None:
        service.watcher.stop()
        with contextlib.suppress(SchedulerNotRunningError):  # signal before start()
            scheduler.shutdown(wait=False)  # leaves the blocking loop; start() returns

    def stop(signum: int, _frame: object) -> None:
        if not stopping.is_set():
            stopping.set()
            log.info("signal %s: shutting down", signal.Signals(signum).name)
            # Not in the handler itself: it runs in the main thread, which may hold the lock of
            # the scheduler's wake-up Event (inside its wait) that shutdown() takes: a deadlock.
            threading.Thread(target=leave_loop, name="scheduler-shutdown").start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    service.start_threads()
    log.info("scheduler started: %s (UTC)", cron)
    if not stopping.is_set():
        scheduler.start()
    service.stop(wait=True)
    log.info("scheduler stopped")


def start_background(engine: Engine | None = None, cron: str | None = None) -> SchedulerService:
    """The schedule in background threads of this process (the demo runs API + schedule in one)."""
    from cinecluster.db import make_engine
    from cinecluster.settings import get_settings

    engine = engine or make_engine("scheduler")
    service = SchedulerService(engine, cron or get_settings().recluster_cron, blocking=False)
    service.scheduler.start()
    service.start_threads()
    return service
