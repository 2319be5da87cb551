"""Stored rankings refreshed between runs: a rating wakes the scheduler, which re-ranks the user.

Every statement that changes ratings already notes the users in user_rating_changes (revision
0006); its trigger now also sends NOTIFY on channel `cinecluster_refresh`, with the user ids
as the payload (empty when the statement touched more than NOTIFY_USERS users). The scheduler
process LISTENs there, re-ranks those users with the active version's item model and writes
their rows of user_recommendations again, marked with the change it saw (refreshed_xid). A
row is current while the user's last change is visible in the version's snapshot (the run
saw it) or is the very change the row was refreshed after. Activating a version also notifies
the channel (empty payload), so the users who changed since its run's snapshot are refreshed
at once.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REFRESHED_COMMENT = (
    "NULL: computed by the version's recluster run. Else the user_rating_changes.changed_xid the"
    " scheduler's refresh ranked the user after; the row is current while it is still that value."
)
RANKINGS_COMMENT = (
    "Top of each user's default (ease) ranking per model version, computed by the recluster run and"
    " refreshed by the scheduler after the user rates; served while current (see refreshed_xid)."
)
OLD_RANKINGS_COMMENT = (
    "Top of each user's default (ease) ranking per model version, computed by the"
    " recluster run; served while the user's ratings have not changed since (user_rating_changes)."
)

NOTIFY_USERS = 100  # a statement touching more users sends an empty payload: "scan them all"
NOTE_FUNCTION = f"""
    CREATE OR REPLACE FUNCTION note_rating_changes() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        users integer[];
    BEGIN
        SELECT array_agg(DISTINCT user_id ORDER BY user_id) INTO users FROM changed_rows;
        INSERT INTO user_rating_changes (user_id, changed_xid, changed_at)
        SELECT u, pg_current_xact_id(), now() FROM unnest(users) AS u
        ON CONFLICT (user_id) DO UPDATE
            SET changed_xid = excluded.changed_xid, changed_at = excluded.changed_at;
        -- delivered at commit; the payload names the users, so the refresh looks only at them
        PERFORM pg_notify('cinecluster_refresh',
                          CASE WHEN cardinality(users) <= {NOTIFY_USERS} THEN array_to_string(users, ',')
                               ELSE '' END);
        RETURN NULL;
    END $$
"""
# revision 0006's function, restored on downgrade
OLD_NOTE_FUNCTION = """
    CREATE OR REPLACE FUNCTION note_rating_changes() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO user_rating_changes (user_id, changed_xid, changed_at)
        SELECT DISTINCT user_id, pg_current_xact_id(), now() FROM changed_rows ORDER BY user_id
        ON CONFLICT (user_id) DO UPDATE
            SET changed_xid = excluded.changed_xid, changed_at = excluded.changed_at;
        RETURN NULL;
    END $$
"""


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def upgrade() -> None:
    op.execute("ALTER TABLE user_recommendations ADD COLUMN refreshed_xid xid8")
    op.execute(f"COMMENT ON COLUMN user_recommendations.refreshed_xid IS {_literal(REFRESHED_COMMENT)}")
    op.execute(f"COMMENT ON TABLE user_recommendations IS {_literal(RANKINGS_COMMENT)}")
    op.execute(NOTE_FUNCTION)


def downgrade() -> None:
    op.execute(OLD_NOTE_FUNCTION)
    op.execute(f"COMMENT ON TABLE user_recommendations IS {_literal(OLD_RANKINGS_COMMENT)}")
    op.execute("ALTER TABLE user_recommendations DROP COLUMN refreshed_xid")
