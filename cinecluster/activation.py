"""Which model version is served: read it and switch it. Shared by the recluster job, `model
activate`, the demo and the API (light: SQLAlchemy and psycopg only, so the API process never
imports the job's scikit-learn; pyproject.toml's import contracts check it)."""

import psycopg
from sqlalchemy import Connection, func, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

from cinecluster.tables import active_model

# The scheduler's refresh of stored rankings LISTENs here; the ratings trigger (revision 0009)
# and every activation notify it (a new version: the users who rated since its run's snapshot).
REFRESH_CHANNEL = "cinecluster_refresh"

_ACTIVE_VERSION = "SELECT version FROM active_model"  # one row at most (revision 0002)


def active_version(conn: Connection | psycopg.Connection) -> int | None:
    """The served version; None before the first run. Takes the API's plain psycopg connections
    as well as SQLAlchemy ones (the job's, the CLI's), inside the caller's transaction if any."""
    if isinstance(conn, Connection):
        return conn.execute(text(_ACTIVE_VERSION)).scalar_one_or_none()
    row = conn.execute(_ACTIVE_VERSION).fetchone()
    return None if row is None else int(row[0])


def set_active(conn: Connection, version: int) -> None:
    """Serve `version` from now on: one UPDATE, so readers switch atomically."""
    stmt = pg_insert(active_model).values(singleton=True, version=version)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[active_model.c.singleton],
            set_={"version": stmt.excluded.version, "activated_at": func.now()},
        )
    )
    conn.execute(text("SELECT pg_notify(:channel, '')"), {"channel": REFRESH_CHANNEL})
