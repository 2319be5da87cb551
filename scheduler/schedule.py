"""`cinecluster scheduler`: APScheduler 3 in its own process, the job store in PostgreSQL.

The cron trigger is declared here, beside the job. The job store (table apscheduler_jobs,
owned by revision 0003) keeps the next fire time across restarts: a run missed while the
process was down fires once at start-up (coalesced) if it is less than MISFIRE_GRACE late.
"""

import contextlib
import logging
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Engine

from cinecluster.errors import UserError
from scheduler.job import run_recluster
from scheduler.versions import active_version

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


def run_scheduler(engine: Engine, cron: str) -> None:
    """Block until SIGTERM/SIGINT; a run in progress is allowed to finish first."""
    scheduler = build_scheduler(engine, cron_trigger(cron))
    stopping = threading.Event()

    def stop(signum: int, _frame: object) -> None:
        if not stopping.is_set():
            stopping.set()
            log.info("signal %s: shutting down", signal.Signals(signum).name)
            with contextlib.suppress(SchedulerNotRunningError):  # signal before start()
                scheduler.shutdown(wait=False)  # leaves the blocking loop; start() returns

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("scheduler started: %s (UTC)", cron)
    if not stopping.is_set():
        scheduler.start()
    log.info("scheduler stopped")


def start_background(engine: Engine | None = None, cron: str | None = None) -> BaseScheduler:
    """The schedule in a background thread of this process (the demo runs API + schedule in one)."""
    from cinecluster.db import make_engine
    from cinecluster.settings import get_settings

    engine = engine or make_engine("scheduler")
    trigger = cron_trigger(cron or get_settings().recluster_cron)
    scheduler = build_scheduler(engine, trigger, blocking=False)
    scheduler.start()
    return scheduler
