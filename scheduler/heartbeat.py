"""Scheduler heartbeats: each scheduler process refreshes its row every few seconds.

Read by the API (`GET /admin/scheduler`, the warning on a request nobody will pick up) and by
`cinecluster scheduler --check` (the compose healthcheck). A row silent for STALE_AFTER
intervals, or marked stopped, is a scheduler that is not running. Light on purpose (SQLAlchemy
only): the API imports it.
"""

import os
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, func, select, update
from sqlalchemy.dialects.postgresql import insert

from cinecluster.tables import scheduler_heartbeats

STALE_AFTER = 3  # heartbeat intervals without a beat: the scheduler is considered gone
FORGET_AFTER = timedelta(days=7)  # rows of schedulers stopped or silent this long are deleted


@dataclass(frozen=True)
class Identity:
    scheduler_id: str
    host: str
    pid: int

    @classmethod
    def of_this_process(cls) -> "Identity":
        host, pid = socket.gethostname(), os.getpid()
        return cls(scheduler_id=f"{host}:{pid}:{int(time.time())}", host=host, pid=pid)


def beat(
    conn: Connection, me: Identity, *, interval_s: float, cron: str | None, next_run_at: datetime | None
) -> None:
    values = {
        "host": me.host,
        "pid": me.pid,
        "cron": cron,
        "interval_s": interval_s,
        "next_run_at": next_run_at,
        "last_seen_at": func.clock_timestamp(),
        "stopped_at": None,
    }
    conn.execute(
        insert(scheduler_heartbeats)
        .values(scheduler_id=me.scheduler_id, **values)
        .on_conflict_do_update(index_elements=["scheduler_id"], set_=values)
    )


def stopped(conn: Connection, me: Identity) -> None:
    """A clean shutdown: the scheduler is reported as not running at once, not after it goes stale."""
    conn.execute(
        update(scheduler_heartbeats)
        .where(scheduler_heartbeats.c.scheduler_id == me.scheduler_id)
        .values(stopped_at=func.clock_timestamp())
    )


def forget_old(conn: Connection) -> None:
    conn.execute(
        scheduler_heartbeats.delete().where(scheduler_heartbeats.c.last_seen_at < func.now() - FORGET_AFTER)
    )


@dataclass(frozen=True)
class Heartbeat:
    scheduler_id: str
    host: str
    pid: int
    cron: str | None
    started_at: datetime
    last_seen_at: datetime
    interval_s: float
    next_run_at: datetime | None
    stopped_at: datetime | None
    age_s: float  # seconds since last_seen_at, by the database's clock
    alive: bool


def latest(conn: Connection) -> Heartbeat | None:
    """The most recently seen scheduler (a live one first), or None if none ever ran."""
    age = func.extract("epoch", func.clock_timestamp() - scheduler_heartbeats.c.last_seen_at)
    alive = scheduler_heartbeats.c.stopped_at.is_(None) & (
        age <= scheduler_heartbeats.c.interval_s * STALE_AFTER
    )
    row = conn.execute(
        select(scheduler_heartbeats, age.label("age_s"), alive.label("alive"))
        .order_by(alive.desc(), scheduler_heartbeats.c.last_seen_at.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    values = row._asdict()
    values["age_s"] = float(values["age_s"])
    return Heartbeat(**values)
