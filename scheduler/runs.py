"""Recluster runs: one at a time across processes (a PostgreSQL advisory lock), each recorded.

The lock is a session-level advisory lock held by the run's own connection, so it is released
when the run ends, its process dies or the database restarts. The run's backend pid is stored
in recluster_runs; a 'running' row whose backend is gone is stale and gets marked failed.
"""

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Connection, Engine, column, func, insert, select, table, update

from cinecluster.errors import UserError
from cinecluster.tables import recluster_runs

Trigger = Literal["cron", "cli", "api"]
LOCK_KEY = 0x63696E65_636C7573  # "cineclus": one key per database (advisory locks are per database)
_STALE = "stale: the run's database session ended before it finished (process killed or DB restarted)"


class ReclusterAlreadyRunning(UserError):
    """A second trigger while a run holds the lock: the API answers 409, the CLI one line."""

    status_code = 409


@dataclass
class RunLease:
    """An open connection holding the recluster lock, and the run's row."""

    conn: Connection
    run_id: int
    backend_pid: int

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


def acquire(engine: Engine, trigger: Trigger) -> RunLease:
    """Take the lock and record a running row, or raise ReclusterAlreadyRunning at once."""
    conn = engine.connect()
    try:
        got, pid = conn.execute(select(func.pg_try_advisory_lock(LOCK_KEY), func.pg_backend_pid())).one()
        conn.commit()
        if not got:
            raise ReclusterAlreadyRunning(_refusal(conn))
        with conn.begin():
            # we hold the lock, so every other 'running' row belongs to a dead session
            _mark_failed(conn, recluster_runs.c.status == "running")
            run_id = conn.execute(
                insert(recluster_runs)
                .values(trigger=trigger, status="running", backend_pid=pid)
                .returning(recluster_runs.c.run_id)
            ).scalar_one()
    except BaseException:
        conn.close()  # also drops the lock if we got it
        raise
    return RunLease(conn=conn, run_id=run_id, backend_pid=pid)


def _refusal(conn: Connection) -> str:
    row = conn.execute(
        select(recluster_runs.c.run_id, recluster_runs.c.trigger, recluster_runs.c.started_at)
        .where(recluster_runs.c.status == "running")
        .order_by(recluster_runs.c.run_id.desc())
        .limit(1)
    ).first()
    conn.rollback()
    if row is None:
        return "a recluster run is already in progress; try again when it has finished"
    started = row.started_at.strftime("%Y-%m-%d %H:%M:%S %Z")
    return (
        f"a recluster run is already in progress (run {row.run_id}, trigger {row.trigger}, "
        f"started {started}); try again when it has finished"
    )


def _mark_failed(conn: Connection, condition: object) -> list[int]:
    result = conn.execute(
        update(recluster_runs)
        .where(condition)  # type: ignore[arg-type]
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


@dataclass(frozen=True)
class RunInfo:
    run_id: int
    trigger: str
    status: str
    started_at: object
    finished_at: object
    version: int | None
    error: str | None


def list_runs(conn: Connection, limit: int = 20) -> list[RunInfo]:
    rows = conn.execute(
        select(
            recluster_runs.c.run_id,
            recluster_runs.c.trigger,
            recluster_runs.c.status,
            recluster_runs.c.started_at,
            recluster_runs.c.finished_at,
            recluster_runs.c.version,
            recluster_runs.c.error,
        )
        .order_by(recluster_runs.c.run_id.desc())
        .limit(limit)
    )
    return [RunInfo(**r._asdict()) for r in rows]
