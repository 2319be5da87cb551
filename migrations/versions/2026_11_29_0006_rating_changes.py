"""Stored rankings are checked against a change log of ratings, not against the ratings.

0005 served a stored ranking only while a fingerprint of the user's ratings (count and checksum)
still matched, so every /recommend/user request read all of the user's ratings: at 25M ratings
that was 3.5x the rest of the statement (docs/benchmarks.md). Now statement-level triggers on
ratings note, per user, the transaction that last changed their ratings (user_rating_changes),
and each version records the snapshot its rankings were computed under
(model_versions.ratings_snapshot). A stored ranking is current exactly when the user's last
change is visible in that snapshot (or the user never changed anything): one primary-key lookup
in a small table, and exact under concurrency, even for a change committed while the recluster
run was computing. TRUNCATE of ratings (a replace load) empties user_recommendations.

Versions written before this revision have no snapshot; their stored rankings are not served
(users get the live ranking) until the next recluster run. The fingerprint columns go.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANGES_COMMENT = (
    "Per user, the last transaction that inserted, updated or deleted any of their ratings (kept by"
    " triggers on ratings). A stored ranking of a version is current while the user has no row here"
    " or the row's changed_xid is visible in model_versions.ratings_snapshot."
)
CHANGES_COLUMN_COMMENTS = {
    "user_id": "User whose ratings changed (ratings.user_id; kept after the ratings are deleted).",
    "changed_xid": "pg_current_xact_id() of the last transaction that changed the user's ratings.",
    "changed_at": "Start time of that transaction.",
}
SNAPSHOT_COMMENT = (
    "Snapshot (pg_current_snapshot) under which the recluster run read the ratings it ranked users"
    " from; NULL: stored rankings of this version are not served."
)
RANKINGS_COMMENT = (
    "Top of each user's default (liked_neighbours) ranking per model version, computed by the"
    " recluster run; served while the user's ratings have not changed since (user_rating_changes)."
)

# Every trigger names its transition table changed_rows, so one statement serves them all: one
# upsert per statement, users in id order so concurrent writers lock rows in the same order. An
# UPDATE may move a rating to another user, so it has two triggers: its old rows and its new.
NOTE_FUNCTION = """
    CREATE FUNCTION note_rating_changes() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO user_rating_changes (user_id, changed_xid, changed_at)
        SELECT DISTINCT user_id, pg_current_xact_id(), now() FROM changed_rows ORDER BY user_id
        ON CONFLICT (user_id) DO UPDATE
            SET changed_xid = excluded.changed_xid, changed_at = excluded.changed_at;
        RETURN NULL;
    END $$
"""
TRUNCATE_FUNCTION = """
    CREATE FUNCTION retire_stored_rankings() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        TRUNCATE user_recommendations;
        RETURN NULL;
    END $$
"""
TRIGGERS = {  # name: (event, transition table)
    "ratings_note_inserts": ("INSERT", "NEW TABLE"),
    "ratings_note_updates_from": ("UPDATE", "OLD TABLE"),
    "ratings_note_updates_to": ("UPDATE", "NEW TABLE"),
    "ratings_note_deletes": ("DELETE", "OLD TABLE"),
}


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def upgrade() -> None:
    op.execute("""
        CREATE TABLE user_rating_changes (
            user_id integer NOT NULL,
            changed_xid xid8 NOT NULL,
            changed_at timestamp with time zone NOT NULL,
            CONSTRAINT pk_user_rating_changes PRIMARY KEY (user_id)
        )
    """)
    op.execute(f"COMMENT ON TABLE user_rating_changes IS {_literal(CHANGES_COMMENT)}")
    for column, comment in CHANGES_COLUMN_COMMENTS.items():
        op.execute(f"COMMENT ON COLUMN user_rating_changes.{column} IS {_literal(comment)}")
    op.execute("ALTER TABLE model_versions ADD COLUMN ratings_snapshot pg_snapshot")
    op.execute(f"COMMENT ON COLUMN model_versions.ratings_snapshot IS {_literal(SNAPSHOT_COMMENT)}")

    op.execute(NOTE_FUNCTION)
    op.execute(
        "COMMENT ON FUNCTION note_rating_changes() IS"
        " 'Trigger: records in user_rating_changes the users whose ratings a statement changed.'"
    )
    for name, (event, transition) in TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON ratings REFERENCING {transition} AS changed_rows"
            " FOR EACH STATEMENT EXECUTE FUNCTION note_rating_changes()"
        )
    op.execute(TRUNCATE_FUNCTION)
    op.execute(
        "COMMENT ON FUNCTION retire_stored_rankings() IS"
        " 'Trigger: TRUNCATE ratings empties user_recommendations (every stored ranking is stale).'"
    )
    op.execute(
        "CREATE TRIGGER ratings_truncate_retires_rankings AFTER TRUNCATE ON ratings"
        " FOR EACH STATEMENT EXECUTE FUNCTION retire_stored_rankings()"
    )

    op.execute("ALTER TABLE user_recommendations DROP COLUMN rating_count, DROP COLUMN ratings_checksum")
    op.execute(f"COMMENT ON TABLE user_recommendations IS {_literal(RANKINGS_COMMENT)}")


def downgrade() -> None:
    # -1 never matches a real fingerprint: 0005's API ranks everyone live until the next run
    op.execute(
        "ALTER TABLE user_recommendations ADD COLUMN rating_count integer NOT NULL DEFAULT -1,"
        " ADD COLUMN ratings_checksum bigint NOT NULL DEFAULT -1"
    )
    op.execute(
        "ALTER TABLE user_recommendations ALTER COLUMN rating_count DROP DEFAULT,"
        " ALTER COLUMN ratings_checksum DROP DEFAULT"
    )
    op.execute(
        "COMMENT ON COLUMN user_recommendations.rating_count IS"
        " 'The user''s ratings when the row was computed.'"
    )
    op.execute(
        "COMMENT ON COLUMN user_recommendations.ratings_checksum IS 'sum over the user''s ratings of"
        " (movie_id * 1000003 + rating * 2 * 10007 + floor(epoch of ts)) % 2147483647: any added,"
        " removed or changed rating changes it.'"
    )
    op.execute(
        "COMMENT ON TABLE user_recommendations IS 'Top of each user''s default (liked_neighbours) ranking"
        " per model version, computed by the recluster run; valid while the user''s ratings match"
        " rating_count and ratings_checksum.'"
    )
    op.execute("DROP TRIGGER ratings_truncate_retires_rankings ON ratings")
    op.execute("DROP FUNCTION retire_stored_rankings()")
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON ratings")
    op.execute("DROP FUNCTION note_rating_changes()")
    op.execute("ALTER TABLE model_versions DROP COLUMN ratings_snapshot")
    op.execute("DROP TABLE user_rating_changes")
