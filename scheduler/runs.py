"""Recluster runs: requested, then run one at a time across processes, each recorded.

Life cycle of a row in recluster_runs: `requested` (the API records a request and NOTIFYs the
scheduler) -> `running` (a scheduler claimed it; the CLI and the cron job insert their own run
straight as running) -> `succeeded` or `failed`. At most one row is requested or running (a
partial unique index): a second request gets 409.

One run at a time is a session-level PostgreSQL advisory lock held by the run's own connection,
so it is released when the run ends, its process dies or the database restarts. The run's
backend pid is stored; whoever holds the lock knows every other 'running' row is stale (its
session ended) and marks it failed. The API takes the same lock, transaction-scoped, only to
record a request: a request is never accepted while a run holds the lock.
"""

import os
import socket
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, Engine, column, func, insert, select, table, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from cinecluster.errors import UserError
from cinecluster.tables import recluster_runs

Trigger = Literal["cron", "cli", "api"]
Status = Literal["requested", "running", "succeeded", "failed"]
LOCK_KEY = 0x63696E65_636C7573  # "cineclus": one key per database (advisory locks are per database)
CHANNEL = "cinecluster_recluster"  # NOTIFY channel: a run was requested
_STALE = "stale: the run's database session ended before it finished (process killed or DB restarted)"


class ReclusterAlreadyRunning(UserError):
    """A second trigger while a run is requested or holds the lock: the API answers 409, the CLI one line."""

    status_code = 409


def runner_name() -> str:
    """host:pid of this process, as recorded in recluster_runs.runner."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class RunLease:
    """An open connection holding the recluster lock, and the run's row."""

    conn: Connection
    run_id: int
    backend_pid: int
    trigger: str = "cli"
    options: dict[str, Any] | None = None

    def succeed(self, version: int) -> None:
        self._finish(status="succeeded", version=version)

    def fail(self, error: BaseException | str) -> None:
        message = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        self._finish(status="failed", error=message.strip().splitlines()[0][:500] if message else "failed")

    def _finish(self, **values: object) -> None:
        if self.conn.in_transaction():
            self.conn.rollback()
        with self.conn.begin():
            self.conn.execute(
                update(recluster_runs)
                .where(recluster_runs.c.run_id == self.run_id)
                .values(finished_at=func.clock_timestamp(), **values)
            )

    def release(self) -> None:
        """Unlock and close; closing alone would also unlock (the session ends)."""
        try:
            if self.conn.in_transaction():
                self.conn.rollback()
            self.conn.execute(select(func.pg_advisory_unlock(LOCK_KEY)))
            self.conn.commit()
        finally:
            self.conn.close()


def _lock(engine: Engine) -> tuple[Connection, int] | None:
    """A connection holding the session lock and its backend pid, or None if another run holds it."""
    conn = engine.connect()
    try:
        got, pid = conn.execute(select(func.pg_try_advisory_lock(LOCK_KEY), func.pg_backend_pid())).one()
        conn.commit()
    except BaseException:
        conn.close()
        raise
    if not got:
        return None
    return conn, pid


def acquire(engine: Engine, trigger: Trigger, options: dict[str, Any] | None = None) -> RunLease:
    """Take the lock and record a running row, or raise ReclusterAlreadyRunning at once."""
    locked = _lock(engine)
    if locked is None:
        with engine.connect() as conn:
            raise ReclusterAlreadyRunning(_refusal(conn))
    conn, pid = locked
    try:
        with conn.begin():
            _mark_failed(conn, recluster_runs.c.status == "running")  # we hold the lock: all dead
            if _active(conn) is not None:  # a request waits for the scheduler
                raise ReclusterAlreadyRunning(_refusal(conn))
            run_id = conn.execute(
                insert(recluster_runs)
                .values(
                    trigger=trigger,
                    status="running",
                    backend_pid=pid,
                    started_at=func.now(),
                    options=options or {},
                    runner=runner_name(),
                )
                .returning(recluster_runs.c.run_id)
            ).scalar_one()
    except BaseException:
        conn.close()  # also drops the lock
        raise
    return RunLease(conn=conn, run_id=run_id, backend_pid=pid, trigger=trigger, options=options or {})


def claim(engine: Engine) -> RunLease | None:
    """The scheduler's side: take the lock and the oldest requested run, or None (nothing to do,
    or another run holds the lock: the request is claimed when that run has ended)."""
    with engine.connect() as conn:  # the common case, nothing requested or running: no lock taken
        if _active(conn) is None:
            return None
    locked = _lock(engine)
    if locked is None:
        return None
    conn, pid = locked
    try:
        with conn.begin():
            _mark_failed(conn, recluster_runs.c.status == "running")
            row = conn.execute(
                update(recluster_runs)
                .where(recluster_runs.c.status == "requested")
                .values(status="running", started_at=func.now(), backend_pid=pid, runner=runner_name())
                .returning(recluster_runs.c.run_id, recluster_runs.c.trigger, recluster_runs.c.options)
            ).first()
    except BaseException:
        conn.close()
        raise
    if row is None:
        _unlock(conn)
        return None
    return RunLease(conn=conn, run_id=row.run_id, backend_pid=pid, trigger=row.trigger, options=row.options)


def _unlock(conn: Connection) -> None:
    try:
        conn.execute(select(func.pg_advisory_unlock(LOCK_KEY)))
        conn.commit()
    finally:
        conn.close()


def request(conn: Connection, trigger: Trigger, options: dict[str, Any]) -> int:
    """Record a requested run and wake the schedulers (NOTIFY, delivered at commit); the caller
    commits. Raises ReclusterAlreadyRunning while a run holds the lock or one is requested."""
    if not _try_xact_lock(conn):
        raise ReclusterAlreadyRunning(_refusal(conn))
    _mark_failed(conn, recluster_runs.c.status == "running")  # we hold the lock: all dead
    if _active(conn) is not None:
        raise ReclusterAlreadyRunning(_refusal(conn))
    try:
        with conn.begin_nested():
            run_id = conn.execute(
                insert(recluster_runs)
                .values(trigger=trigger, status="requested", options=options)
                .returning(recluster_runs.c.run_id)
            ).scalar_one()
    except IntegrityError:  # ux_recluster_runs_one_active: a concurrent request won
        raise ReclusterAlreadyRunning(_refusal(conn)) from None
    conn.execute(select(func.pg_notify(CHANNEL, str(run_id))))
    return run_id


def _try_xact_lock(conn: Connection, tries: int = 20, pause_s: float = 0.025) -> bool:
    """The lock for this transaction. Held by a run: False at once. Held with no run to show
    for it (a scheduler's claim looking for work, a few milliseconds): try again, briefly."""
    for _ in range(tries):
        if conn.execute(select(func.pg_try_advisory_xact_lock(LOCK_KEY))).scalar_one():
            return True
        if _active(conn) is not None:
            return False
        time.sleep(pause_s)
    return False


def _active(conn: Connection) -> int | None:
    return conn.execute(
        select(recluster_runs.c.run_id).where(recluster_runs.c.status.in_(("requested", "running")))
    ).scalar()


def _refusal(conn: Connection) -> str:
    row = conn.execute(
        select(
            recluster_runs.c.run_id,
            recluster_runs.c.trigger,
            recluster_runs.c.status,
            func.coalesce(recluster_runs.c.started_at, recluster_runs.c.requested_at).label("since"),
        )
        .where(recluster_runs.c.status.in_(("requested", "running")))
        .order_by(recluster_runs.c.run_id.desc())
        .limit(1)
    ).first()
    if row is None:
        return "a recluster run is already in progress; try again when it has finished"
    since = row.since.strftime("%Y-%m-%d %H:%M:%S %Z")
    if row.status == "requested":
        return (
            f"a recluster run is already requested (run {row.run_id}, trigger {row.trigger}, "
            f"requested {since}) and waits for the scheduler; try again when it has finished"
        )
    return (
        f"a recluster run is already in progress (run {row.run_id}, trigger {row.trigger}, "
        f"started {since}); try again when it has finished"
    )


def _mark_failed(conn: Connection, condition: ColumnElement[bool]) -> list[int]:
    result = conn.execute(
        update(recluster_runs)
        .where(condition)
        .values(status="failed", finished_at=func.clock_timestamp(), error=_STALE)
        .returning(recluster_runs.c.run_id)
    )
    return sorted(result.scalars())


def mark_stale_runs(conn: Connection) -> list[int]:
    """Mark failed every 'running' row whose backend pid is no longer connected; returns their ids."""
    activity = table("pg_stat_activity", column("pid"), column("datname"))
    alive = select(activity.c.pid).where(activity.c.datname == func.current_database())
    return _mark_failed(
        conn,
        (recluster_runs.c.status == "running")
        & (recluster_runs.c.backend_pid.is_(None) | recluster_runs.c.backend_pid.not_in(alive)),
    )


def record_step(
    conn: Connection, run_id: int, step: str, index: int, count: int, fraction: float | None
) -> None:
    conn.execute(
        update(recluster_runs)
        .where(recluster_runs.c.run_id == run_id)
        .values(
            step=step,
            step_index=index,
            step_count=count,
            step_fraction=fraction,
            progress_at=func.clock_timestamp(),
        )
    )


@dataclass(frozen=True)
class RunInfo:
    run_id: int
    trigger: str
    status: str
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    version: int | None
    error: str | None
    options: dict[str, Any]
    runner: str | None
    step: str | None
    step_index: int | None
    step_count: int | None
    step_fraction: float | None
    progress_at: datetime | None


_INFO_COLUMNS = [recluster_runs.c[name] for name in RunInfo.__dataclass_fields__]


def list_runs(conn: Connection, limit: int = 20, statuses: tuple[Status, ...] | None = None) -> list[RunInfo]:
    query = select(*_INFO_COLUMNS).order_by(recluster_runs.c.run_id.desc()).limit(limit)
    if statuses:
        query = query.where(recluster_runs.c.status.in_(statuses))
    return [RunInfo(**r._asdict()) for r in conn.execute(query)]


def get_run(conn: Connection, run_id: int) -> RunInfo | None:
    row = conn.execute(select(*_INFO_COLUMNS).where(recluster_runs.c.run_id == run_id)).first()
    return None if row is None else RunInfo(**row._asdict())
