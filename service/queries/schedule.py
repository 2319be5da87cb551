"""When the recluster job fires next: APScheduler's job store row (UTC seconds since the epoch)."""

from datetime import UTC, datetime

import psycopg
from sqlalchemy import select

from cinecluster.tables import apscheduler_jobs
from service.sql import compile_sql, fetch_value

RECLUSTER_JOB_ID = "recluster"  # scheduler/schedule.py's JOB_ID (not imported: APScheduler is heavy)
NEXT_RUN = compile_sql(
    select(apscheduler_jobs.c.next_run_time).where(apscheduler_jobs.c.id == RECLUSTER_JOB_ID)
)


def next_scheduled_run(conn: psycopg.Connection) -> datetime | None:
    """None when no scheduler has stored the job yet (or it is paused)."""
    seconds = fetch_value(conn, NEXT_RUN)
    return datetime.fromtimestamp(seconds, UTC) if seconds is not None else None
