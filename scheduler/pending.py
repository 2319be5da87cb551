"""Which users' stored rankings wait for the scheduler's refresh (scheduler/refresh.py).

Light on purpose (no numpy): the API reports the backlog in GET /admin/scheduler.
"""

from dataclasses import dataclass

from sqlalchemy import Connection, text

# Users whose last change the version's run did not see, not yet refreshed after it.
PENDING_WHERE = """
    NOT pg_visible_in_snapshot(
        c.changed_xid, (SELECT ratings_snapshot FROM model_versions WHERE version = :v))
    AND NOT EXISTS (SELECT 1 FROM user_recommendations u
                    WHERE u.version = :v AND u.user_id = c.user_id AND u.refreshed_xid = c.changed_xid)
"""
_BACKLOG = text(
    f"""
    SELECT count(*) AS users, extract(epoch FROM now() - min(c.changed_at)) AS oldest_s
    FROM user_rating_changes c
    WHERE {PENDING_WHERE}
    """
)


@dataclass(frozen=True)
class Backlog:
    users: int  # users served live until refreshed
    oldest_s: float | None  # age of the oldest waiting change, seconds


def backlog(conn: Connection, version: int) -> Backlog:
    row = conn.execute(_BACKLOG, {"v": version}).one()
    return Backlog(int(row.users), round(float(row.oldest_s), 3) if row.oldest_s is not None else None)
