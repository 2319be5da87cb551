"""Switching the served model version: shared by the recluster job, `model activate` and the
API's rollback endpoint (kept here, light, so the API need not import the job's scikit-learn)."""

from sqlalchemy import Connection, func, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

from cinecluster.tables import active_model

# The scheduler's refresh of stored rankings LISTENs here; the ratings trigger (revision 0009)
# and every activation notify it (a new version: the users who rated since its run's snapshot).
REFRESH_CHANNEL = "cinecluster_refresh"


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
